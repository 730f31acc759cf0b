"""Which identity provider sent a request, from what it says about itself."""

from __future__ import annotations


def recognise_idp(user_agent: str, query_string: bytes) -> str:
    """``okta``, ``entra`` or ``unknown``.

    Okta sends ``User-Agent: Okta SCIM Client 1.0.0`` (its SPEC test suite sends
    ``OKTA SCIM Integration``); Entra's provisioning service identifies as Azure AD, and a
    tenant URL with the ``aadOptscim062020`` flag carries it on every request.
    """
    agent = user_agent.lower()
    if "okta" in agent:
        return "okta"
    if "azure" in agent or "microsoft" in agent or b"aadoptscim" in query_string.lower():
        return "entra"
    return "unknown"
