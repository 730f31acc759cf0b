"""How the API token is presented to TelemetryTV."""

from __future__ import annotations

import base64

from ..ops.config.sections import AuthScheme

__all__ = ["AuthScheme", "authorization_header"]


def authorization_header(scheme: AuthScheme, token: str) -> str:
    """Return the ``Authorization`` header value that presents ``token`` upstream."""
    if scheme is AuthScheme.token:
        return f"Token {token}"
    if scheme is AuthScheme.bearer:
        return f"Bearer {token}"
    encoded = base64.b64encode(f"{token}:".encode()).decode("ascii")
    return f"Basic {encoded}"
