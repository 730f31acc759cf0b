"""What a failed exchange with TelemetryTV was, named as an operator would name it.

httpx's exception type alone misleads: its aiohttp transport raises ``ConnectTimeout`` for
every aiohttp connection error, so a refused connection, a name that does not resolve and
a failed TLS handshake all read as a timeout. The cause chain still holds the original
error (``aiohttp.ClientConnectorDNSError``, ``ssl.SSLError``, ``ConnectionRefusedError``,
``socket.gaierror``...), and decides here.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import aiohttp
import httpx


class FailureKind(StrEnum):
    """What went wrong, from the network's point of view."""

    dns = "DNS failure"
    refused = "connection refused"
    tls = "TLS failure"
    timeout = "timeout"
    connection = "connection failure"


@dataclass(frozen=True)
class Failure:
    """A named failure: its kind, what was seen, and what to check."""

    kind: FailureKind
    detail: str
    fix: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_kind(exc: BaseException) -> FailureKind:
    """The kind of a failed exchange, read from the whole cause chain."""
    chain = list(_chain(exc))
    if any(isinstance(e, socket.gaierror | aiohttp.ClientConnectorDNSError) for e in chain):
        return FailureKind.dns
    tls_errors = (ssl.SSLError, ssl.CertificateError, aiohttp.ClientSSLError)
    if any(isinstance(e, tls_errors) for e in chain):
        return FailureKind.tls
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return FailureKind.refused
    timeouts = (httpx.TimeoutException, TimeoutError, aiohttp.ServerTimeoutError)
    if any(isinstance(e, timeouts) for e in chain):
        return FailureKind.timeout
    return FailureKind.connection


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the upstream"
    return f"{parts.hostname}:{port}"


def describe_failure(exc: BaseException, url: str) -> Failure:
    """A failed exchange with ``url`` as an operator reads it, with what to check."""
    kind = failure_kind(exc)
    where = _where(url)
    host = where.rsplit(":", 1)[0]
    if kind is FailureKind.dns:
        return Failure(
            kind,
            f"DNS failure: the host name {host!r} does not resolve",
            "check the host name in upstream.base_url, and DNS from this machine",
        )
    if kind is FailureKind.refused:
        return Failure(
            kind,
            f"connection refused by {where}: nothing accepts connections on that port",
            "check the host and port of upstream.base_url, and that the service there is up",
        )
    if kind is FailureKind.tls:
        reason = next(
            (str(e) for e in _chain(exc) if isinstance(e, ssl.SSLError | ssl.CertificateError)),
            "",
        )
        return Failure(
            kind,
            f"TLS failure with {where}" + (f": {reason[:200]}" if reason else ""),
            "use https:// only for a TLS port (http:// for a plain one), and a certificate "
            "this machine trusts (for a test upstream only: upstream.insecure_skip_tls_verify)",
        )
    if kind is FailureKind.timeout:
        phase = "did not answer" if isinstance(exc, httpx.ReadTimeout) else "timed out"
        return Failure(
            kind,
            f"timeout: {where} {phase} in time",
            "check that egress to the host is open (a firewall that drops packets looks like "
            "this), or raise upstream.connect_timeout / upstream.read_timeout",
        )
    return Failure(
        kind,
        f"connection failure with {where} ({type(exc).__name__})",
        "check upstream.base_url and egress to TelemetryTV",
    )
