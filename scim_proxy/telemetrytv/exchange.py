"""One upstream HTTP exchange, on httpx's public API only.

The adapter owns its transport (``transport.py``: aiohttp in production; in tests a
``MockTransport``, an ``ASGITransport`` in front of the simulator, or httpx's own transport
under respx). Each call is an ``httpx.Request`` handed to the transport's
``handle_async_request``, and its answer is read whole.

No ``AsyncClient`` sits in between: the adapter needs none of what it adds (no auth flow,
no event hooks, no cookies, and redirects are never followed), and its layers cost about
17 µs of CPU a call (docs/decisions.md, "Upstream calls").
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["Answer", "build_request", "exchange"]


@dataclass(frozen=True, slots=True)
class Answer:
    """TelemetryTV's answer to one request, its body read whole (and decoded)."""

    status: int
    headers: httpx.Headers
    body: bytes


def build_request(
    method: str,
    url: str,
    headers: httpx.Headers,
    content: bytes | None,
    timeout: dict[str, float | None],
) -> httpx.Request:
    """The request to send: ``headers`` as they are, and ``content`` as the body.

    ``headers`` carry the ``Host`` (the adapter sets it once for its base URL): the
    request is built from a stream, which httpx leaves to the caller to describe, so only
    the body's ``Content-Length`` is added here. Built from ``content=``, httpx would check
    for and lay out those headers again on every call, about 7 µs (docs/performance.md).
    ``timeout`` is what the transport waits for each phase. Raises ``httpx.InvalidURL``
    for a URL httpx refuses (one longer than 65,536 characters); nothing is sent then.
    """
    if content:
        headers = headers.copy()
        headers["Content-Length"] = str(len(content))
    request = httpx.Request(
        method,
        url,
        headers=headers,
        stream=httpx.ByteStream(content or b""),
        extensions={"timeout": timeout},
    )
    request.read()  # the body is in memory: transports and test mocks read it as content
    return request


async def exchange(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> Answer:
    """Send ``request`` through ``transport`` and read the whole answer.

    The connection goes back to the transport's pool once the body is read, or when
    reading it fails.
    """
    response = await transport.handle_async_request(request)
    try:
        stream = response.stream
        if "content-encoding" in response.headers or not isinstance(stream, httpx.AsyncByteStream):
            # A compressed body, which aread decodes (or a stream no async transport
            # gives, which aread refuses as httpx does).
            body = await response.aread()
        else:
            # The faster path for the usual answer, sent as it is: its chunks joined
            # straight from the transport's stream. aread would pass each through four
            # more async generators (raw bytes, decoder, re-chunkers) for nothing, about
            # 7 µs a call (docs/performance.md lists this path).
            body = b"".join([chunk async for chunk in stream])
    finally:
        await response.aclose()
    return Answer(response.status_code, response.headers, body)
