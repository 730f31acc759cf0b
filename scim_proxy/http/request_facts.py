"""What the pipeline reads off a request's scope: its client, id, clean path, IdP."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from random import getrandbits

from starlette.types import Scope

from .idp import recognise_idp

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_SLASHES = re.compile(r"/{2,}")

PEER = "scim_proxy.peer"
"""Scope key of the connection's own peer address, kept before forwarded headers apply."""

_LONGEST_IP = len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255")


@lru_cache(maxsize=1024)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def reject_non_ip_forwarded_client(scope: Scope) -> None:
    """Undo a forwarded client address that is not an IP address: the peer's own counts.

    uvicorn's proxy-headers middleware takes whatever a trusted peer's
    ``X-Forwarded-For`` says; anything but an IP literal (garbage, a name, 60 KB of text)
    would otherwise become the address failed authentications are counted and logged
    under, letting a client pick a fresh one for every guess.
    """
    client = scope.get("client")
    peer = scope.get(PEER)
    if client is peer or not client:
        return
    host = client[0]
    if not (isinstance(host, str) and len(host) <= _LONGEST_IP and _is_ip(host)):
        scope["client"] = peer


def request_id(scope: Scope) -> str:
    """``X-Request-ID`` if well-formed, else the trace id of ``traceparent``, else new."""
    traceparent: str | None = None
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
        elif name == b"traceparent":
            traceparent = value.decode("latin-1").strip().lower()
    if traceparent:
        match = _TRACEPARENT.fullmatch(traceparent)
        if match:
            return str(match.group(1))
    # 128 random bits from the process's generator (reseeded in each forked worker): an
    # id needs to be unique, not secret, and os.urandom costs a system call a request.
    return f"{getrandbits(128):032x}"


def normalise_path(scope: Scope) -> None:
    """Tolerate what clients make of a base URL with a trailing slash: ``/scim/v2//Users/``.

    Repeated slashes collapse and a trailing slash goes, in the scope itself, so routing
    (and the route template logged) see the clean path.
    """
    path: str = scope["path"]
    if "//" in path or (len(path) > 1 and path.endswith("/")):
        normalised = _SLASHES.sub("/", path)
        if len(normalised) > 1 and normalised.endswith("/"):
            normalised = normalised[:-1]
        scope["path"] = normalised


def idp(scope: Scope) -> str:
    """Which identity provider sent the request (``okta``, ``entra``, ``unknown``)."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    agent = next((v for k, v in headers if k == b"user-agent"), b"").decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    return recognise_idp(agent, query)
