"""An upstream failure as the check reports it: what happened, and what to do."""

from __future__ import annotations

from ..telemetrytv.errors import (
    BadResponse,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    UpstreamError,
    UpstreamUnavailable,
)


def upstream_detail(exc: UpstreamError) -> str:
    """What TelemetryTV answered (or why nothing came back), on one line."""
    text = exc.message
    if isinstance(exc, InvalidRequest) and exc.fields:
        text += " (" + "; ".join(f"{name}: {why}" for name, why in exc.fields.items()) + ")"
    if isinstance(exc, ConnectionFailed):
        return f"could not reach TelemetryTV ({text})"
    if isinstance(exc, BadResponse):  # what came back: "a body that is not JSON", "status 302"
        return f"TelemetryTV answered {text}"
    if exc.status is not None:
        return f"TelemetryTV answered {exc.status}" + (f": {text}" if text.strip() else "")
    return text


def upstream_fix(exc: UpstreamError) -> str:
    """What an operator can do about it, as far as the kind of failure tells."""
    if exc.status == 405:
        return (
            "TelemetryTV refused the HTTP method: the adapter (scim_proxy/telemetrytv/client.py) "
            "must use the one this account accepts; no setting changes it"
        )
    if isinstance(exc, Unauthorized):
        return "the token was refused: use an API token of a user in TelemetryTV's Admin group"
    if isinstance(exc, Forbidden):
        return (
            "TelemetryTV forbade it: the plan's user limit is reached, or the token's user "
            "may not manage users and groups (use a token of an Admin-group user)"
        )
    if isinstance(exc, RateLimited):
        return "TelemetryTV is throttling: run the check again in a few minutes"
    if isinstance(exc, UpstreamUnavailable):
        return (
            "TelemetryTV failed or could not be reached: run the check again; if it keeps "
            "failing, attach the --json report to a ticket with TelemetryTV"
        )
    if isinstance(exc, NotFound):
        return "what the check had just created is gone: something else deleted it"
    if isinstance(exc, Conflict):
        return "a name the check made up is taken (it is random): run the check again"
    if isinstance(exc, InvalidRequest):
        return (
            "TelemetryTV refused a field the proxy sends: attach the --json report to a ticket "
            "with TelemetryTV (the adapter, scim_proxy/telemetrytv/, must follow the answer)"
        )
    return "attach the --json report to a ticket with TelemetryTV"
