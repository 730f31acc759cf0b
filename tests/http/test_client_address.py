"""The client address failed authentications are counted and logged under.

From a peer in ``auth.trusted_proxies`` it is the right-most ``X-Forwarded-For`` entry that
is not itself a trusted proxy (uvicorn's proxy-headers middleware), provided that entry is
an IP address; anything else (a name, garbage, 60 KB of text) counts as the peer itself.
The test client's own address is 127.0.0.1 (a trusted proxy by default), so each request
arrives as an ingress would send it.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.auth_guard.allowlist import token_sha256
from scim_proxy.http.pipeline import ProxyApp
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

LIMIT = 5
PEER = "127.0.0.1"
VICTIM = "2001:db8:1:2::5"


def guarded(simulator: ASGIApp, **auth: Any) -> ProxyApp:
    """The proxy with an allowlist (other tokens: 401 before any upstream call)."""
    values: dict[str, Any] = {
        "allowed_token_sha256": (token_sha256(TOKEN),),
        "failure_limit": LIMIT,
        **auth,
    }
    settings = proxy_settings().replace("auth", **values)
    return create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))


def client_of(app: ProxyApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def guess(http: httpx.AsyncClient, *forwarded_for: str) -> httpx.Response:
    """A request with a wrong token, with one ``X-Forwarded-For`` line per value."""
    headers = [("Authorization", "Bearer a-guess")]
    headers += [("X-Forwarded-For", value) for value in forwarded_for]
    return await http.get("/Users", headers=headers)


async def counted_under(app: ProxyApp, *forwarded_for: str) -> str:
    """The client address a refused request of these headers is counted and logged under."""
    with capture_logs() as logs:
        async with client_of(app) as http:
            assert (await guess(http, *forwarded_for)).status_code == 401
    [refused] = [e for e in logs if e["event"] == "auth_refused"]
    client: str = refused["client"]
    return client


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        (("203.0.113.5",), "203.0.113.5"),
        # Each proxy appends what it saw: the right-most untrusted entry is the client.
        (("198.51.100.1, 203.0.113.5",), "203.0.113.5"),
        (("198.51.100.1", "203.0.113.5"), "203.0.113.5"),  # one header line per hop
        (("203.0.113.5, 127.0.0.1",), "203.0.113.5"),  # a trusted hop is skipped
        (("203.0.113.5:8443",), "203.0.113.5"),
        (("[2001:db8::9]:443",), "2001:db8::/64"),  # IPv6 counts per /64
        (("::ffff:203.0.113.5",), "203.0.113.5"),
        ((), PEER),
        (("",), PEER),
        # Not an IP address: the peer's own address counts.
        (("evil",), PEER),
        (("203.0.113.5, evil",), PEER),
        (("unknown",), PEER),
        (("2001:db8:1:2::/64",), PEER),
        (("203.0.113.5.example",), PEER),
        (("[2001:db8::9]x",), PEER),
        (("1" * 60_000,), PEER),
    ],
)
async def test_the_client_is_the_right_most_untrusted_forwarded_ip_address(
    simulator: ASGIApp, forwarded_for: tuple[str, ...], client: str
) -> None:
    assert await counted_under(guarded(simulator), *forwarded_for) == client


async def test_forwarded_headers_of_an_untrusted_peer_are_ignored(simulator: ASGIApp) -> None:
    app = guarded(simulator, trusted_proxies=())
    assert await counted_under(app, "203.0.113.5") == PEER
    app = guarded(simulator, trusted_proxies=("10.0.0.0/8",))
    assert await counted_under(app, "203.0.113.5") == PEER


async def test_a_trusted_range_is_skipped_as_a_hop(simulator: ASGIApp) -> None:
    app = guarded(simulator, trusted_proxies=("127.0.0.1", "10.0.0.0/8"))
    assert await counted_under(app, "203.0.113.5, 10.1.2.3, 10.9.9.9") == "203.0.113.5"


async def test_the_forwarded_scheme_of_a_trusted_peer_is_believed(
    client: httpx.AsyncClient,
) -> None:
    user = (await client.get("/Users?count=1")).json()["Resources"][0]
    headers = {"X-Forwarded-Proto": "https"}
    found = await client.get(f"/Users/{user['id']}", headers=headers)
    assert found.json()["meta"]["location"].startswith("https://proxy.test/scim/v2/Users/")


# Issue 17, finding 5: what "any string counts as the client" allowed.


async def test_rotating_garbage_forwarded_values_does_not_dodge_the_throttle(
    simulator: ASGIApp,
) -> None:
    async with client_of(guarded(simulator)) as http:
        for n in range(LIMIT):
            assert (await guess(http, f"garbage-{n}")).status_code == 401
        # Counted under the peer that sent them all: throttled like any other address.
        assert (await guess(http, "garbage-new")).status_code == 429


async def test_values_that_are_not_addresses_cannot_lock_out_a_real_client(
    simulator: ASGIApp,
) -> None:
    # The throttle counts IPv6 clients per /64 under "2001:db8:1:2::/64": as a forwarded
    # "address", that text would lock out everyone in the block.
    async with client_of(guarded(simulator)) as http:
        for _ in range(LIMIT):
            assert (await guess(http, "2001:db8:1:2::/64")).status_code == 401
        assert (await guess(http, VICTIM)).status_code == 401  # let in, to fail on its own


async def test_long_forwarded_values_are_not_kept_or_logged(simulator: ASGIApp) -> None:
    app = guarded(simulator, failure_limit=1_000)
    values = [f"{n:05d}" + "x" * 60_000 for n in range(200)]  # 12 MB of distinct values
    tracemalloc.start()
    try:
        with capture_logs() as logs:
            async with client_of(app) as http:
                before = tracemalloc.get_traced_memory()[0]
                for value in values:
                    assert (await guess(http, value)).status_code == 401
                # What is kept, not garbage waiting for the collector: the test's own httpx
                # client leaves each request's headers in reference cycles, freed only by a
                # collection whose timing shifts with any change elsewhere.
                gc.collect()
                kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert app.guard.throttle is not None
    assert len(app.guard.throttle) == 1  # the peer
    assert kept < 2_000_000, kept  # far below the 12 MB sent
    refused = [e for e in logs if e["event"] == "auth_refused"]
    assert len(refused) == len(values)
    assert {e["client"] for e in refused} == {PEER}
    assert max(len(str(value)) for e in logs for value in e.values()) < 1_000
