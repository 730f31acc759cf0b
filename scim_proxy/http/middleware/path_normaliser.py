"""Tolerates the URL shapes SCIM clients produce from a base URL with a trailing slash."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

_SLASHES = re.compile(r"/{2,}")


class PathNormaliserMiddleware:
    """Collapses repeated slashes and drops a trailing slash (``/scim/v2//Users/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the path, then hand on."""
        if scope["type"] == "http":
            path: str = scope["path"]
            normalised = _SLASHES.sub("/", path)
            if len(normalised) > 1 and normalised.endswith("/"):
                normalised = normalised[:-1]
            if normalised != path:
                # In place: the request context reads the matched route from this scope.
                scope["path"] = normalised
        await self.app(scope, receive, send)
