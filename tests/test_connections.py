"""What a client connection may cost before its request reaches the app, over real sockets.

A real uvicorn server on 127.0.0.1 with the options ``serve`` uses (``uvicorn_config``),
serving a small app that reads each request's body; the client speaks raw HTTP/1.1 so
that it can send what no HTTP library would: endless or slow header blocks.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import orjson
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from scim_proxy.ops.config import Settings
from scim_proxy.serving import uvicorn_config

pytestmark = pytest.mark.anyio


async def body_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the length of the body it read."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serving(settings: Settings) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn_config(body_length, "127.0.0.1", port, settings)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()


FAILSAFE = 20.0
"""Seconds a test waits for an answer before failing rather than hanging (not a timing)."""


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), FAILSAFE)


def limited(**server: object) -> Settings:
    return Settings().replace("server", **server)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async for bound in serving(limited(header_timeout_seconds=0.5, max_connections=3)):
        yield bound


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, then read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await until_closed(reader)
    writer.close()
    return answer


def status_and_body(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


async def test_a_normal_request_and_a_large_body_go_through(port: int) -> None:
    body = b"x" * 200_000  # sent with the headers, in the same writes: not a header byte
    request = (
        b"POST /anything HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    answer = await exchange(port, request)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"\r\n\r\n200000")


async def test_an_endless_header_block_is_refused_431_and_not_buffered(port: int) -> None:
    # The review grew a process by 213 MB with 8 such connections.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = asyncio.create_task(until_closed(reader))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n")
    sent = 0
    while not answered.done() and sent < 10_000_000:
        try:
            writer.write(b"X-Filler: " + b"a" * 1000 + b"\r\n")
            await writer.drain()
        except ConnectionError:
            break
        sent += 1012
        await asyncio.sleep(0)
    answer = await answered
    status, error = status_and_body(answer)
    assert status == 431
    assert b"content-type: application/scim+json" in answer
    assert "16384 bytes" in str(error["detail"])
    assert sent < 10_000_000  # answered while the header was still coming
    writer.close()


async def test_a_slow_header_block_is_answered_408_and_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n")  # and never the blank line
    await writer.drain()
    answer = await until_closed(reader)  # the server closes it: no timing is asserted
    status, error = status_and_body(answer)
    assert status == 408
    assert "0.5 seconds" in str(error["detail"])
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed_too(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = await until_closed(reader)
    assert status_and_body(answer)[0] == 408
    writer.close()


async def test_every_request_on_a_kept_alive_connection_is_limited(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /a HTTP/1.1\r\nHost: proxy\r\nContent-Length: 3\r\n\r\nabc")
    await writer.drain()
    first = await reader.readuntil(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert await reader.readexactly(1) == b"3"
    # The second request's header block counts from its own first byte.
    writer.write(b"GET /b HTTP/1.1\r\nHost: proxy\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n")
    await writer.drain()
    second = await until_closed(reader)
    assert status_and_body(second)[0] == 431
    writer.close()


async def test_connections_past_the_cap_are_refused_503_unread(port: int) -> None:
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    # The cap (3) is reached: the next one is answered at once, whatever it sends.
    answer = await exchange(port, b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n\r\n")
    status, error = status_and_body(answer)
    assert status == 503
    assert b"retry-after: 1" in answer
    assert "connections" in str(error["detail"])
    for _, writer in held:
        writer.close()
        await writer.wait_closed()
    # Those closed, a connection is served again (the server notices the closes first).
    for _ in range(100):
        answer = await exchange(
            port,
            b"POST /c HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        )
        if not answer.startswith(b"HTTP/1.1 503"):
            break
        await asyncio.sleep(0.01)
    assert answer.startswith(b"HTTP/1.1 200 ")
