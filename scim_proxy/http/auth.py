"""The TelemetryTV API token, taken from each inbound request's ``Authorization`` header.

Accepted: ``Bearer <token>`` (what Okta's HTTP Header auth and Entra send),
``Token <token>`` (TelemetryTV's own scheme), and ``Basic`` with the token as the user
name. The token is checked for shape here; the allowlist (``allowlist.py``), when one is
configured, and then TelemetryTV decide whether it is let in.
"""

from __future__ import annotations

import base64
import binascii
import re

from ..ops.reasons import Reason
from ..scim.errors import ScimError

_TOKEN = re.compile(r"[\x21-\x7e]{1,1024}")
"""Visible ASCII only: nothing that could split or extend a header upstream."""

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scim-proxy"'}


def _unauthorized(detail: str, reason: Reason) -> ScimError:
    return ScimError(401, detail, headers=_CHALLENGE, reason=reason)


def token_from_header(header: str | None) -> str:
    """The API token an ``Authorization`` header carries; 401 when there is none."""
    if not header or not header.strip():
        raise _unauthorized(
            "The request has no Authorization header. Configure the app's provisioning "
            "with HTTP Header authentication and the TelemetryTV API token "
            "(sent as 'Authorization: Bearer <token>').",
            "no_authorization_header",
        )
    scheme, _, credentials = header.strip().partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    token: str | None = None
    if scheme in ("bearer", "token"):
        token = credentials
    elif scheme == "basic":
        token = _basic_username(credentials)
    if not token or not _TOKEN.fullmatch(token):
        raise _unauthorized(
            "The Authorization header must be 'Bearer <TelemetryTV API token>' "
            "(also accepted: 'Token <token>', or Basic with the token as the user name).",
            "malformed_authorization_header",
        )
    return token


def _basic_username(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, _, password = decoded.partition(":")
    # The token is the user name; some clients put it in the password field instead.
    return username or password or None


def token_not_allowed() -> ScimError:
    """401 for a well-formed token that is not among ``auth.allowed_token_sha256``."""
    return _unauthorized(
        "The API token is not one this scim-proxy deployment accepts. Put the TelemetryTV API "
        "token it serves in the app's provisioning settings, or have the proxy's operator add "
        "this token's SHA-256 (scim-proxy token-sha256) to auth.allowed_token_sha256.",
        "token_not_allowed",
    )


def well_formed_token(text: str) -> bool:
    """Whether ``text`` has the shape of a token the proxy would forward."""
    return _TOKEN.fullmatch(text) is not None
