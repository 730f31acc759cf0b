"""How the API token is presented to TelemetryTV."""

from __future__ import annotations

import base64
from enum import StrEnum


class AuthScheme(StrEnum):
    """The ``Authorization`` scheme the proxy uses towards TelemetryTV."""

    token = "token"  # noqa: S105 - a scheme name, not a secret
    """``Authorization: Token <token>``: TelemetryTV's documented form (the default)."""

    basic = "basic"
    """``Authorization: Basic base64("<token>:")``: the token as the user name."""

    bearer = "bearer"
    """``Authorization: Bearer <token>``: not documented by TelemetryTV."""


def authorization_header(scheme: AuthScheme, token: str) -> str:
    """Return the ``Authorization`` header value that presents ``token`` upstream."""
    if scheme is AuthScheme.token:
        return f"Token {token}"
    if scheme is AuthScheme.bearer:
        return f"Bearer {token}"
    encoded = base64.b64encode(f"{token}:".encode()).decode("ascii")
    return f"Basic {encoded}"
