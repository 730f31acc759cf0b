"""The pooled HTTP transport the adapter sends through.

The aiohttp transport is the default because it was measured: on a 2-core machine a
Starlette passthrough using httpx's own transport fell from about 900 to about 300
requests/s as concurrency rose from 1 to 32, while the aiohttp transport held about
2,300/s (see docs/performance.md). Either is an httpx transport: the adapter hands it
``httpx.Request`` objects (exchange.py), and tests put a ``MockTransport`` in its place.

No cookies are kept: the adapter sends through the transport itself, with no
``AsyncClient`` and so no httpx cookie jar, and aiohttp's own jar beneath the transport is
a ``DummyCookieJar``, so nothing one token's call was answered with rides along with
another's (tests/e2e/test_upstream_cookies.py).
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ..ops.config.sections import TransportKind

__all__ = ["TransportKind", "build_http_client", "build_transport", "provably_unsent"]


def build_transport(
    *,
    transport: TransportKind = TransportKind.aiohttp,
    pool_size: int = 100,
    verify_tls: bool = True,
) -> httpx.AsyncBaseTransport:
    """An HTTP transport with one connection pool for the whole process."""
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
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
    return chosen


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


def build_http_client(
    *,
    transport: TransportKind = TransportKind.aiohttp,
    pool_size: int = 100,
    connect_timeout: float = 5.0,
    read_timeout: float = 20.0,
    verify_tls: bool = True,
) -> httpx.AsyncClient:
    """A client over a transport of :func:`build_transport`, for ``scim-proxy check``.

    The probe's client, with httpx's own layers: it acts with one token for one run, so
    its cookie jar carries nothing from one token to another.
    """
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    chosen = build_transport(transport=transport, pool_size=pool_size, verify_tls=verify_tls)
    return httpx.AsyncClient(transport=chosen, timeout=timeout, trust_env=False)


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
