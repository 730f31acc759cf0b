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
from functools import lru_cache

import httpx

__all__ = ["Answer", "build_request", "exchange", "upstream_url"]


@dataclass(frozen=True, slots=True)
class Answer:
    """TelemetryTV's answer to one request, its body read whole (and decoded)."""

    status: int
    headers: httpx.Headers
    body: bytes


CACHED_URL_LENGTH = 512
"""The longest URL :func:`upstream_url` keeps parsed (1,024 of them hold about 1 MB)."""


@lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)


def upstream_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, parsed once for the URLs the adapter calls again and again.

    Parsing and checking a URL costs httpx about 11 µs, about as much as the rest of
    building the request; the same URL comes back for every create (``/users``), every
    page of an import and every read of a user an IdP is updating. The last 1,024 URLs of
    up to :data:`CACHED_URL_LENGTH` characters are kept (an ``httpx.URL`` is immutable);
    a longer one (a lookup by a long value) is parsed on each call. Raises
    ``httpx.InvalidURL`` as ``httpx.URL`` does.
    """
    return _parsed(url) if len(url) <= CACHED_URL_LENGTH else httpx.URL(url)


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
    raw: httpx.Headers | list[tuple[bytes, bytes]] = headers
    if content:
        raw = [*headers.raw, (b"Content-Length", str(len(content)).encode("ascii"))]
    request = httpx.Request(
        method,
        upstream_url(url),
        headers=raw,
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
