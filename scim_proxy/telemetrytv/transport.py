"""The pooled HTTP client the adapter sends through.

The aiohttp transport is the default because it was measured: on a 2-core machine a
Starlette passthrough using httpx's own transport fell from about 900 to about 300
requests/s as concurrency rose from 1 to 32, while the aiohttp transport held about
2,300/s (see docs/performance.md). The httpx API stays the same either way.

Neither transport keeps cookies: httpx's jar (:class:`CookielessClient`) and aiohttp's own
jar beneath it (a ``DummyCookieJar``) both stay empty, so nothing one token's call was
answered with rides along with another's (tests/e2e/test_upstream_cookies.py).
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ..ops.config.sections import TransportKind

__all__ = ["CookielessClient", "TransportKind", "build_http_client", "provably_unsent"]


def build_http_client(
    *,
    transport: TransportKind = TransportKind.aiohttp,
    pool_size: int = 100,
    connect_timeout: float = 5.0,
    read_timeout: float = 20.0,
    verify_tls: bool = True,
) -> httpx.AsyncClient:
    """An async HTTP client with one connection pool for the whole process."""
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    chosen: httpx.AsyncBaseTransport
    if transport is TransportKind.aiohttp:
        tls = httpx.create_ssl_context(verify=verify_tls, trust_env=False)
        chosen = AiohttpTransport(
            limits=limits,
            verify=tls,
            trust_env=False,
            client=lambda: _cookieless_session(limits, tls),
        )
    else:
        chosen = httpx.AsyncHTTPTransport(limits=limits, verify=verify_tls, trust_env=False)
    # trust_env is off so that no proxy variable in the environment can send upstream
    # calls anywhere but the configured base URL.
    return CookielessClient(transport=chosen, timeout=timeout, limits=limits, trust_env=False)


def _cookieless_session(limits: httpx.Limits, tls: ssl.SSLContext) -> aiohttp.ClientSession:
    """The aiohttp session under the transport: the pool the transport would build, and a
    cookie jar that never stores anything.

    aiohttp keeps a jar of its own beneath httpx's: a cookie TelemetryTV (or a load
    balancer in front of it) set while serving one token would otherwise be sent with
    every later call, whatever its token. Built on first use, inside the running loop.
    """
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry,
        ssl=tls,
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class _NoCookies(httpx.Cookies):
    """A cookie jar that stays empty: nothing is extracted from responses."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore the response's ``Set-Cookie`` headers."""


class CookielessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that never stores or sends cookies.

    Every upstream call carries the API token; TelemetryTV needs no cookies, and a
    session cookie kept from one inbound request's call must never ride along with
    another's. httpx would otherwise parse each response through ``http.cookiejar``
    (measured at about 3 % of a proxy worker's CPU under load, docs/performance.md).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jar = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        """This client's jar, which responses never fill."""
        return self._jar

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies given to the client are not kept."""


def provably_unsent(exc: httpx.HTTPError) -> bool:
    """Whether a failed exchange certainly never delivered the request to the server.

    Only a failure to connect qualifies. The aiohttp transport maps every aiohttp
    connection error, including a connection dropped after the request was written, to
    an httpx connect error, so its original exception decides.
    """
    if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return False
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, aiohttp.ClientConnectorError)
    return True
