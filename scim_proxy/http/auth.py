"""The TelemetryTV API token, taken from each inbound request's ``Authorization`` header.

Accepted:

- ``Bearer <token>``: what Okta's HTTP Header mode and Entra send;
- ``Token <token>``: TelemetryTV's own scheme;
- ``Basic``: Okta's Basic Auth mode asks for a user name and a password; the token is the
  password (masked in Okta's form) and the user name is not used. With an empty password
  the user name is the token: TelemetryTV's own Basic form, ``base64("<token>:")``.

Anything else is a 401 ``malformed_authorization_header`` before any upstream call. The
token is checked for shape here; the allowlist (``allowlist.py``), when one is
configured, and then TelemetryTV decide whether it is let in. Where the token came from
(:attr:`Credentials.source`) is noted on the request, so that a refusal says which part
of the header was refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

from ..ops.context import request_stats
from ..ops.reasons import Reason
from ..scim.errors import ScimError

_TOKEN = re.compile(r"[\x21-\x7e]{1,1024}")
"""Visible ASCII only: nothing that could split or extend a header upstream."""

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scim-proxy", Basic realm="scim-proxy"'}

_MALFORMED = (
    "The Authorization header must be 'Bearer <TelemetryTV API token>' (also accepted: "
    "'Token <token>', or Basic with any user name and the token as the password)"
)


class Credentials(NamedTuple):
    """The token a header carries, its scheme, and which part of the header held it."""

    token: str
    scheme: str
    """``bearer``, ``token`` or ``basic`` (logged as the request's ``auth_scheme``)."""
    source: str
    """Where the token was, in words: ``the Basic password``..."""


def _unauthorized(detail: str, reason: Reason) -> ScimError:
    return ScimError(401, detail, headers=_CHALLENGE, reason=reason)


def credentials_from_header(header: str | None) -> Credentials:
    """The credentials an ``Authorization`` header carries; 401 when it carries none."""
    if not header or not header.strip():
        raise _unauthorized(
            "The request has no Authorization header. Configure the app's provisioning "
            "with HTTP Header authentication and the TelemetryTV API token "
            "(sent as 'Authorization: Bearer <token>').",
            "no_authorization_header",
        )
    scheme, _, given = header.strip().partition(" ")
    scheme = scheme.lower()
    given = given.strip()
    if scheme in ("bearer", "token"):
        found = Credentials(given, scheme, f"the {scheme.title()} {_WORD[scheme]}")
    elif scheme == "basic":
        basic = _basic(given)
        if basic is None or not _TOKEN.fullmatch(basic.token):
            raise _unauthorized(
                "The Basic credentials must be base64 of 'user name:password' with the "
                "TelemetryTV API token as the password, in visible ASCII characters (the user "
                "name is not used; with an empty password, the user name is the token). In "
                "Okta's Basic Auth mode: any user name, the API token as the password; or "
                "send 'Authorization: Bearer <token>'.",
                "malformed_authorization_header",
            )
        found = basic
    else:
        raise _unauthorized(_MALFORMED, "malformed_authorization_header")
    if not _TOKEN.fullmatch(found.token):
        raise _unauthorized(_MALFORMED, "malformed_authorization_header")
    return found


_WORD = {"bearer": "token", "token": "credentials"}


def token_from_header(header: str | None) -> str:
    """The API token an ``Authorization`` header carries; 401 when there is none.

    Notes on the current request which scheme it came by (its ``auth_scheme``) and from
    which part of the header, for the log and for a refusal's detail.
    """
    found = credentials_from_header(header)
    stats = request_stats()
    stats.auth_scheme, stats.token_source = found.scheme, found.source
    return found.token


def _basic(credentials: str) -> Credentials | None:
    """The token of Basic credentials: the password, else the user name; None if unreadable."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    if password:
        return Credentials(password, "basic", "the Basic password")
    if username:
        source = "the Basic user name" + (" (the password is empty)" if colon else "")
        return Credentials(username, "basic", source)
    return None


def token_not_allowed() -> ScimError:
    """401 for a well-formed token that is not among ``auth.allowed_token_sha256``."""
    source = request_stats().token_source
    sent = f" ({source})" if source and source != "the Bearer token" else ""
    return _unauthorized(
        f"The API token{sent} is not one this scim-proxy deployment accepts. Put the "
        "TelemetryTV API token it serves in the app's provisioning settings, or have the "
        "proxy's operator add this token's SHA-256 (scim-proxy token-sha256) to "
        "auth.allowed_token_sha256.",
        "token_not_allowed",
    )


def well_formed_token(text: str) -> bool:
    """Whether ``text`` has the shape of a token the proxy would forward."""
    return _TOKEN.fullmatch(text) is not None
