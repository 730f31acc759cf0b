"""What a client connection may cost before its request reaches the app.

uvicorn's httptools protocol keeps reading a header block for as long as the client sends
one: no size limit, no time limit (a security review grew one process by 213 MB with 8
connections sending endless headers, and kept 500 slow-header connections open). This
module puts limits in front of it, through public interfaces only: an ``asyncio.Protocol``
composed around uvicorn's protocol class (passed to uvicorn as ``http=``), and an ASGI
wrapper around the app that tells the connection when its request has been answered.

- **Connections** (``server.max_connections`` per process): past the cap, a new
  connection is answered SCIM 503 with ``Retry-After`` and closed at once, never read.
- **Header size** (``server.max_header_bytes``): a request's header block (from its first
  byte to the blank line ending it) larger than this is answered SCIM 431 and the
  connection closed, without it being buffered further.
- **Header time** (``server.header_timeout_seconds``): a header block not finished this
  long after its first byte (or after the connection opened) is answered SCIM 408 and the
  connection closed.

A request's body is not counted here (the app bounds it: ``server.max_body_bytes``,
``server.body_timeout_seconds``). The header block of the next request on a kept-alive
connection is counted from the first byte after the previous request was answered; body
bytes a client still sends after an early answer (a 401 before the body was read) count
as that next block, so an unread body over the limit ends the connection, as servers
that cannot skip an unread body do. A client pipelining requests (sending the next before
the answer, which neither Okta nor Entra does) has the next request's header block read
uncounted, and its body counted as a header block.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.server import ServerState

from .ops.config import ServerSettings
from .ops.metrics import CONNECTIONS_REFUSED

_END_OF_HEADERS = b"\r\n\r\n"

LINGER_SECONDS = 1.0
"""How long a refused connection is kept to drop what its client still sends."""


def _refusal(status: int, reason: str, detail: str, extra: bytes = b"") -> bytes:
    """A whole HTTP/1.1 response carrying a SCIM error, closing the connection."""
    body = orjson.dumps(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(status),
            "detail": detail,
        }
    )
    return (
        f"HTTP/1.1 {status} {reason}\r\n".encode()
        + b"content-type: application/scim+json\r\n"
        + b"connection: close\r\n"
        + extra
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


@dataclass
class ConnectionLimits:
    """The limits, and what one server process holds against them."""

    max_connections: int = 1000
    max_header_bytes: int = 16_384
    header_timeout_seconds: float = 5.0
    open: int = 0
    """Connections open now (refused ones are never counted)."""
    refused: dict[str, int] = field(default_factory=lambda: {"busy": 0, "large": 0, "slow": 0})
    """Connections refused so far, by reason."""
    by_peer: dict[tuple[str, int], GuardedConnection] = field(default_factory=dict)
    """Open connections by client address and port, as the ASGI scope's ``client`` has it."""

    def busy_answer(self) -> bytes:
        """503 for a connection past ``max_connections``."""
        return _refusal(
            503,
            "Service Unavailable",
            "The proxy holds as many connections as it accepts; retry in a second.",
            b"retry-after: 1\r\n",
        )

    def large_answer(self) -> bytes:
        """431 for a header block over ``max_header_bytes``."""
        return _refusal(
            431,
            "Request Header Fields Too Large",
            f"The request's headers are larger than {self.max_header_bytes} bytes.",
        )

    def slow_answer(self) -> bytes:
        """408 for a header block slower than ``header_timeout_seconds``."""
        return _refusal(
            408,
            "Request Timeout",
            f"The request's headers did not arrive within {self.header_timeout_seconds:g} seconds.",
        )


class GuardedConnection(asyncio.Protocol):
    """One client connection: uvicorn's httptools protocol behind :class:`ConnectionLimits`.

    Subclassed per server by :func:`guarded_protocol`, which sets :attr:`limits`.
    """

    limits: ConnectionLimits
    inner_class: type[asyncio.Protocol] = HttpToolsProtocol

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # ``_loop`` is the keyword uvicorn's server passes every protocol class it makes.
        self.loop = _loop or asyncio.get_event_loop()
        self.inner = self.inner_class(  # type: ignore[call-arg]
            config=config, server_state=server_state, app_state=app_state, _loop=_loop
        )
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        self.counted = False
        self.in_headers = True
        """Reading a header block (or waiting for the first byte of the next one)."""
        self.started = False
        """The current header block's first byte has arrived."""
        self.header_bytes = 0
        self.tail = b""
        """The last bytes of the header block so far: its end may straddle two reads."""
        self.timer: asyncio.TimerHandle | None = None
        self.refusing = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Refuse the connection past the cap; otherwise hand it to uvicorn's protocol."""
        # uvloop's transports implement asyncio.Transport without deriving from it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        limits = self.limits
        if limits.open >= limits.max_connections:
            self._refuse("busy", limits.busy_answer())
            return
        limits.open += 1
        self.counted = True
        self.peer = get_remote_addr(transport)
        if self.peer is not None:
            limits.by_peer[self.peer] = self
        self._arm()  # the first header block is timed from the connection's opening
        self.started = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Count a header block's bytes (never the body's), then pass everything on."""
        if not self.counted or self.refusing:
            return  # refused: nothing is read
        if self.in_headers:
            if not self.started:
                self.started = True
                self._arm()
            seen = self.tail + data
            end = seen.find(_END_OF_HEADERS)
            if end < 0:
                self.header_bytes += len(data)
                self.tail = seen[-3:]
            else:
                self.header_bytes += end + len(_END_OF_HEADERS) - len(self.tail)
                self._headers_done()
            if self.header_bytes > self.limits.max_header_bytes:
                self._refuse("large", self.limits.large_answer())
                return
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        """As uvicorn's protocol answers; a refused connection closes now."""
        if self.refusing:
            return False  # the transport closes itself
        return self.inner.eof_received() if self.counted else None

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection, and let uvicorn's protocol finish its own bookkeeping."""
        self._disarm()
        if not self.counted:
            return
        self.counted = False
        self.limits.open -= 1
        if self.peer is not None and self.limits.by_peer.get(self.peer) is self:
            del self.limits.by_peer[self.peer]
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        """As uvicorn's protocol does (flow control)."""
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        """As uvicorn's protocol does (flow control)."""
        self.inner.resume_writing()

    # The request's life, as the app sees it

    def answered(self) -> None:
        """The app has answered this connection's request: the next bytes begin a new one."""
        self.in_headers = True
        self.started = False
        self.header_bytes = 0
        self.tail = b""
        self._disarm()

    def _headers_done(self) -> None:
        self.in_headers = False
        self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self.timer = self.loop.call_later(self.limits.header_timeout_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _too_slow(self) -> None:
        self.timer = None
        if self.in_headers and self.started:
            self._refuse("slow", self.limits.slow_answer())

    def _refuse(self, reason: str, answer: bytes) -> None:
        """Answer, then close: at once, or after a short linger reading and discarding.

        A client still sending (an endless header) would otherwise meet a reset, which can
        destroy the answer before it is read; so the answer is followed by an end of
        stream, what arrives meanwhile is dropped, and the connection closes when the
        client closes its side, or after :data:`LINGER_SECONDS` at most.
        """
        self.limits.refused[reason] += 1
        CONNECTIONS_REFUSED.labels(reason).inc()
        self.in_headers = False
        self.refusing = True
        self._disarm()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(answer)
        if transport.can_write_eof():
            transport.write_eof()
            self.timer = self.loop.call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()


def connection_limits(server: ServerSettings) -> ConnectionLimits:
    """The limits ``[server]`` sets, for one server process."""
    return ConnectionLimits(
        max_connections=server.max_connections,
        max_header_bytes=server.max_header_bytes,
        header_timeout_seconds=server.header_timeout_seconds,
    )


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedConnection]:
    """The protocol class to hand uvicorn as ``http=``, holding these limits."""
    return type("GuardedHttpTools", (GuardedConnection,), {"limits": limits})


def answered_tracking(app: ASGIApp, limits: ConnectionLimits) -> ASGIApp:
    """``app``, telling each request's connection when the request has been answered.

    Must be the outermost app: it reads ``scope["client"]`` before the pipeline (uvicorn's
    proxy-headers middleware) puts the forwarded client address there.
    """

    async def tracking(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        client = scope.get("client")
        try:
            await app(scope, receive, send)
        finally:
            connection = limits.by_peer.get((client[0], client[1])) if client else None
            if connection is not None:
                connection.answered()

    return tracking


_worker_limits: ConnectionLimits | None = None


def worker_limits() -> ConnectionLimits:
    """This worker process's limits, from the settings workers read (``serve --workers``)."""
    global _worker_limits
    if _worker_limits is None:
        from .ops.config import load_settings

        _worker_limits = connection_limits(load_settings().server)
    return _worker_limits


class WorkerConnection(GuardedConnection):
    """:class:`GuardedConnection` for a worker of ``serve --workers``, named to uvicorn by its
    import path (a class made at run time cannot reach a worker process)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.limits = worker_limits()
        super().__init__(config, server_state, app_state, _loop)
