"""One upstream HTTP request, built and sent with only the parts of httpx it needs.

Built the ordinary way, an ``httpx.Request`` re-parses and re-validates the whole URL
(``urlparse`` twice when there are query parameters) and re-merges its headers on every
call, and ``AsyncClient.send`` walks four layers (auth flow, redirects, hooks, the single
request) before the transport: together more CPU than the rest of a proxied read
(docs/performance.md, "Fourth round"). The adapter's requests all have the same shape:
one configured base URL, a path the adapter wrote itself, a few query parameters, the
session's fixed headers. So:

- :class:`RequestFactory` parses the base URL once and joins each path to it without
  parsing again when the path is made only of characters a URL carries as they are
  (anything else is built by httpx as before), and lays out the headers exactly as
  httpx's own request building would. Property tests hold both equal to
  ``httpx.Request`` (tests/telemetrytv/test_exchange.py).
- :func:`send` hands the request straight to the client's transport when the client's
  other layers would do nothing to it (no auth, no event hooks, redirects not followed,
  an open client of httpx's own class or :class:`CookielessClient`), the way
  ``AsyncClient._send_single_request`` does (and, for a redirect, as the redirect
  layer does when it does not follow: the next request is built and kept, so a
  ``Location`` that is not a URL still fails the exchange); any other client gets
  ``client.send``.
  Either way the client's transport (aiohttp in production, a ``MockTransport`` or
  respx in tests) receives every call, with the request's timeout extension.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from httpx._client import BoundAsyncStream, ClientState
from httpx._exceptions import request_context
from httpx._urlparse import MAX_URL_LENGTH

from .transport import CookielessClient

__all__ = ["RequestFactory", "read", "send"]

_AS_IS = re.compile(r"[A-Za-z0-9\-._~/]*")
"""Path characters httpx neither quotes nor normalises (except in dot segments)."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SET_BY_HTTPX = frozenset({b"host", b"content-length", b"transfer-encoding"})
_PLAIN_CLIENTS = (httpx.AsyncClient, CookielessClient)

HeaderEntry = tuple[bytes, bytes, bytes]
"""One header as ``httpx.Headers`` keeps it: raw name, lower-cased name, value."""


def _entries(headers: httpx.Headers) -> tuple[HeaderEntry, ...]:
    return tuple(headers._list)


def _headers(entries: list[HeaderEntry]) -> httpx.Headers:
    headers = httpx.Headers()
    headers._list = entries
    return headers


class RequestFactory:
    """Builds the adapter's requests against one base URL."""

    def __init__(self, base_url: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.base_url = base_url
        self._base_headers = _entries(httpx.Headers(headers or []))
        parsed = httpx.URL(base_url)
        reference = parsed._uri_reference
        try:
            host = parsed.host  # decoded as httpx.Request decodes it for the Host header
        except ValueError:
            host = ""  # an IDNA name httpx.Request refuses on every call: left to it
        # The path is joined to the base's own; a base with credentials, a query or a
        # fragment, or without a host (httpx then sends no Host), is unusual enough to
        # leave to httpx entirely.
        self._reference = (
            reference
            if host
            and not (
                reference.userinfo or reference.query is not None or reference.fragment is not None
            )
            else None
        )
        self._prefix = reference.path
        # httpx refuses a URL, or (with query parameters) any of its parts once quoted,
        # longer than MAX_URL_LENGTH: a path that could reach it is left to httpx.
        self._room = MAX_URL_LENGTH - max(len(base_url), len(reference.path))
        if len(reference.authority) > MAX_URL_LENGTH:
            self._reference = None
        self._host = (b"Host", b"host", parsed.netloc)
        # Headers httpx would not add itself when the client's defaults already set them.
        if any(name in _SET_BY_HTTPX for _, name, _ in self._base_headers):
            self._reference = None

    def session_headers(self, authorization: str) -> tuple[HeaderEntry, ...]:
        """A session's headers: the base headers, then its ``Authorization``.

        Normalised as ``httpx.Headers`` would (a value is ASCII-encoded, as httpx
        refuses any other), once for the session rather than on each request.
        """
        value = authorization.encode("ascii")
        return (*self._base_headers, (b"Authorization", b"authorization", value))

    def build(
        self,
        method: str,
        path: str,
        headers: tuple[HeaderEntry, ...],
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        timeout: dict[str, float | None],
    ) -> httpx.Request:
        """The request ``httpx.Request(method, base_url + path, ...)`` would build."""
        url = self._url(path, params)
        extensions = {"timeout": timeout}
        if url is None:
            return httpx.Request(
                method,
                self.base_url + path,
                params=params,
                content=content,
                headers=_headers(list(headers)),
                extensions=extensions,
            )
        method = method.upper()
        entries = [self._host, *headers]
        if content:
            entries.append((b"Content-Length", b"content-length", str(len(content)).encode()))
        elif method in _BODY_METHODS:
            # httpx puts its own Content-Length of an empty body right after the Host.
            entries.insert(1, (b"Content-Length", b"content-length", b"0"))
        body = content or b""
        request = httpx.Request(
            method,
            url,
            headers=_headers(entries),
            stream=httpx.ByteStream(body),
            extensions=extensions,
        )
        request._content = body  # what request.read() would keep: the body is in memory
        return request

    def _url(self, path: str, params: Mapping[str, Any] | None) -> httpx.URL | None:
        """The base URL joined with ``path`` and ``params``, or ``None`` to let httpx parse."""
        if (
            self._reference is None
            or not _AS_IS.fullmatch(path)
            or "/." in path
            or path[:1] not in ("/", "")
            or len(path) > self._room
        ):
            return None
        query: str | None = None
        if params:
            if all(type(value) is str for value in params.values()):
                query = urlencode(list(params.items()))
            else:
                query = str(httpx.QueryParams(params))
            if len(query) > MAX_URL_LENGTH:
                return None  # httpx refuses a URL that long (InvalidURL)
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = self._reference._replace(path=self._prefix + path, query=query)
        return url


def _direct(client: httpx.AsyncClient, request: httpx.Request) -> bool:
    """Whether ``client.send`` would hand ``request`` to its transport unchanged."""
    hooks = client._event_hooks
    return (
        type(client) in _PLAIN_CLIENTS
        and client._state is not ClientState.CLOSED
        and client._auth is None
        and not client.follow_redirects
        and not hooks["request"]
        and not hooks["response"]
        and not request.url._uri_reference.userinfo
    )


async def send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send ``request`` through ``client``'s transport and read the whole answer."""
    if not _direct(client, request):
        return await client.send(request)
    # What AsyncClient.send and _send_single_request do for such a client and request,
    # but httpx's own INFO line per request: nothing routes the stdlib "httpx" logger
    # (ops/logging.py configures structlog), and a failed attempt has its upstream_call.
    client._state = ClientState.OPENED
    transport = client._transport_for_url(request.url)
    started = time.perf_counter()
    with request_context(request=request):
        response = await transport.handle_async_request(request)
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    response.request = request
    response.stream = BoundAsyncStream(stream, response=response, start=started)
    client.cookies.extract_cookies(response)
    response.default_encoding = client._default_encoding
    response.history = []
    try:
        if 300 <= response.status_code < 400 and response.has_redirect_location:
            # What the redirect layer does when it does not follow: the next request is
            # built and kept, and a Location that is not a URL fails the exchange.
            response.next_request = client._build_redirect_request(request, response)
        await read(response, stream)
    except BaseException:
        await response.aclose()
        raise
    return response


async def read(response: httpx.Response, stream: httpx.AsyncByteStream) -> None:
    """``response.aread()``, for a response whose body ``stream`` the transport gave.

    ``aread`` passes each chunk through three more async generators (raw bytes, the
    content decoder, two re-chunkers) under two error contexts: about 15 µs of a small
    JSON answer. A body sent without a ``Content-Encoding`` needs no decoder, so its
    chunks are joined straight from the transport's stream, leaving the response as
    ``aread`` would (content, consumed, closed, bytes downloaded). Anything encoded
    goes through ``aread``.
    """
    if hasattr(response, "_content") or response.is_stream_consumed or response.is_closed:
        await response.aread()  # already read, or aread's own error to raise
        return
    for _, name, _ in response.headers._list:
        if name == b"content-encoding":
            await response.aread()
            return
    response.is_stream_consumed = True
    with request_context(request=response._request):
        content = b"".join([chunk async for chunk in stream])
    response._content = content
    response._num_bytes_downloaded = len(content)
    await response.aclose()
