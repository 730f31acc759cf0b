"""The client address and scheme from ``X-Forwarded-For``/``-Proto`` of trusted proxies only.

What uvicorn's ``ProxyHeadersMiddleware`` does, done in place on the scope by the front
door rather than as one more middleware layer around every request: the peer must be one
of ``auth.trusted_proxies`` (addresses or CIDR ranges, trusted as uvicorn's own matcher
decides); then ``X-Forwarded-Proto`` sets the scheme and the last untrusted address of
``X-Forwarded-For`` the client. tests/http/test_forwarded.py holds it equal to uvicorn's
middleware.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

_SCHEMES = frozenset({"http", "https", "ws", "wss"})


async def _unused(*_: Any) -> None:  # pragma: no cover
    """The app uvicorn's middleware would call: never called, only its matcher is used."""


class ForwardedHeaders:
    """Believes the forwarded headers of the proxies in ``trusted`` (non-empty)."""

    def __init__(self, trusted: list[str]) -> None:
        # uvicorn's matcher of addresses and networks, with its cache of answers.
        self._trusted = ProxyHeadersMiddleware(_unused, trusted_hosts=trusted).trusted_hosts

    def apply(self, scope: Scope) -> None:
        """Put the forwarded client and scheme in ``scope`` when its peer is trusted."""
        client = scope.get("client")
        if (client[0] if client else None) not in self._trusted:
            return
        proto: bytes | None = None
        forwarded_for: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                proto = value
            elif name == b"x-forwarded-for":
                forwarded_for.append(value)
        if proto is not None:
            scheme = proto.decode("latin1").strip()
            if scheme in _SCHEMES:
                scope["scheme"] = scheme
        if forwarded_for:
            joined = b", ".join(forwarded_for).decode("latin1")
            host, port = self._trusted.get_trusted_client_address(joined)
            if host:
                # An empty X-Forwarded-For gives no host: keep the peer then, as uvicorn does.
                scope["client"] = (host, port)
