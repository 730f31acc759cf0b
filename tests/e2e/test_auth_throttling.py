"""Failed-authentication throttling, end to end, per client address.

The throttle's clock is a fake one the tests move by hand: no test sleeps or measures
time. Client addresses arrive as ``X-Forwarded-For`` from the test client's own address
(127.0.0.1, a trusted proxy by default), as an ingress would send them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Receive, Scope, Send
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.auth_guard.allowlist import token_sha256
from scim_proxy.http.pipeline import ProxyApp
from scim_proxy.ops.config import Settings
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

STRANGER = "stranger-guess-91c2e7"
ATTACKER = "203.0.113.5"
NEIGHBOUR = "198.51.100.7"
LIMIT = 5
WINDOW = 60.0

Calls = Callable[[], list[tuple[str, str]]]


def over_the_network(app: ASGIApp) -> ASGIApp:
    """``app`` answering after a network round trip (a real wait), so that concurrent
    requests are in flight together, as they would be against TelemetryTV."""

    async def delayed(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.002)
        await app(scope, receive, send)

    return delayed


class Clock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def throttling(settings: Settings, *, allow: bool, **auth: object) -> Settings:
    values: dict[str, object] = {"failure_limit": LIMIT, "failure_window_seconds": WINDOW}
    if allow:
        values["allowed_token_sha256"] = (token_sha256(TOKEN),)
    values.update(auth)
    return settings.replace("auth", **values)


def app_for(simulator: ASGIApp, settings: Settings, clock: Clock | None = None) -> ProxyApp:
    upstream = httpx.ASGITransport(app=over_the_network(simulator))
    return create_app(settings, upstream_transport=upstream, clock=clock or Clock())


def scim(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=60)


async def get(
    http: httpx.AsyncClient, token: str | None, address: str, xff: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": xff or address}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    # One upstream call when it gets through: roles' group names would add a listing.
    params = {"count": 1, "excludedAttributes": "roles"}
    return await http.get("/Users", params=params, headers=headers)


def refusals(reason: str) -> float:
    value = REGISTRY.get_sample_value("scim_proxy_auth_refusals_total", {"reason": reason})
    return value or 0.0


async def test_throttling_starts_at_the_limit_and_ends_with_the_window(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    clock = Clock()
    app = app_for(simulator, throttling(proxy_settings(), allow=True), clock)
    async with scim(app) as http:
        with capture_logs() as events:
            for _ in range(LIMIT):
                assert (await get(http, STRANGER, ATTACKER)).status_code == 401
                clock.advance(1)
        started = [e for e in events if e["event"] == "auth_throttle_started"]
        assert [e["client"] for e in started] == [ATTACKER]

        throttled = await get(http, STRANGER, ATTACKER)
        assert throttled.status_code == 429
        assert throttled.headers["content-type"].startswith("application/scim+json")
        # The window began at the first failure, LIMIT seconds ago.
        assert throttled.headers["retry-after"] == str(int(WINDOW) - LIMIT)
        assert throttled.json()["status"] == "429"
        assert "retry after" in throttled.json()["detail"]
        # A missing token is throttled the same, and so is a token-less request.
        assert (await get(http, None, ATTACKER)).status_code == 429

        # Probes are never throttled.
        assert (
            await http.get("http://proxy.test/healthz", headers={"X-Forwarded-For": ATTACKER})
        ).status_code == 200
        # Other addresses are not affected; the allowed token never is, from any address.
        assert (await get(http, STRANGER, NEIGHBOUR)).status_code == 401
        assert (await get(http, TOKEN, ATTACKER)).status_code == 200

        clock.advance(WINDOW - LIMIT - 0.5)
        assert (await get(http, STRANGER, ATTACKER)).headers["retry-after"] == "1"
        clock.advance(0.5)
        # The window has passed: let in again, to fail on its own merits.
        assert (await get(http, STRANGER, ATTACKER)).status_code == 401
    # Only the allowed token's request ever reached TelemetryTV.
    assert len(upstream_calls()) == 1


async def scrape(http: httpx.AsyncClient, token: str | None, address: str) -> httpx.Response:
    headers = {"X-Forwarded-For": address}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await http.get("http://proxy.test/metrics", headers=headers)


async def test_without_a_metrics_token_scrapes_are_neither_counted_nor_refused(
    simulator: ASGIApp,
) -> None:
    app = app_for(simulator, throttling(proxy_settings(), allow=True))
    async with scim(app) as http:
        for _ in range(LIMIT):
            assert (await get(http, STRANGER, ATTACKER)).status_code == 401
        assert (await get(http, STRANGER, ATTACKER)).status_code == 429
        # Nothing to guess: the address's scrapes are served, whatever they carry.
        assert (await scrape(http, STRANGER, ATTACKER)).status_code == 200
        assert (await scrape(http, None, ATTACKER)).status_code == 200


async def test_wrong_metrics_tokens_count_against_the_same_throttle(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    clock = Clock()
    settings = throttling(proxy_settings(), allow=True).replace("metrics", token="scrape-8d1f")
    app = app_for(simulator, settings, clock)
    before = refusals("metrics_token")
    async with scim(app) as http:
        assert (await scrape(http, "scrape-8d1f", NEIGHBOUR)).status_code == 200
        with capture_logs() as events:
            for guess in range(LIMIT - 1):
                assert (await scrape(http, f"guess-{guess}", ATTACKER)).status_code == 401
            assert (await scrape(http, None, ATTACKER)).status_code == 401
        assert refusals("metrics_token") - before == LIMIT
        assert [e["client"] for e in events if e["event"] == "auth_throttle_started"] == [ATTACKER]
        # Throttled: more guesses are refused unseen, and so is the SCIM surface.
        refused = await scrape(http, "guess-again", ATTACKER)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(int(WINDOW))
        assert "metrics.token" in refused.json()["detail"]
        assert (await scrape(http, None, ATTACKER)).status_code == 429
        assert (await get(http, STRANGER, ATTACKER)).status_code == 429
        # The scraper itself, behind the same address, still gets its metrics.
        assert (await scrape(http, "scrape-8d1f", ATTACKER)).status_code == 200
        # SCIM failures count toward the scrapes' throttle too: one budget per address.
        for _ in range(LIMIT):
            assert (await get(http, STRANGER, NEIGHBOUR)).status_code == 401
        assert (await scrape(http, "guess-9", NEIGHBOUR)).status_code == 429
        clock.advance(WINDOW)
        assert (await scrape(http, "guess-10", ATTACKER)).status_code == 401
    assert upstream_calls() == []


async def test_without_an_allowlist_telemetrytvs_401s_count_and_the_proven_token_passes(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    clock = Clock()
    app = app_for(simulator, throttling(proxy_settings(), allow=False), clock)
    async with scim(app) as http:
        # The IdP, behind the same NAT as the attacker, has been working.
        assert (await get(http, TOKEN, ATTACKER)).status_code == 200
        before = refusals("upstream_rejected")
        for _ in range(LIMIT - 1):
            assert (await get(http, STRANGER, ATTACKER)).status_code == 401
        assert (await get(http, None, ATTACKER)).status_code == 401  # no token counts too
        assert refusals("upstream_rejected") - before == LIMIT - 1
        calls = len(upstream_calls())
        assert calls == LIMIT  # the IdP's one, then each guess
        assert (await get(http, STRANGER, ATTACKER)).status_code == 429
        assert (await get(http, "another-guess", ATTACKER)).status_code == 429
        assert len(upstream_calls()) == calls
        assert (await get(http, TOKEN, ATTACKER)).status_code == 200
        clock.advance(WINDOW)
        assert (await get(http, STRANGER, ATTACKER)).status_code == 401


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    simulator: ASGIApp,
) -> None:
    app = app_for(simulator, throttling(proxy_settings(), allow=True))
    async with scim(app) as http:
        # The client controls the left of the header; the right-most untrusted entry
        # (what the trusted proxy saw) is what counts, so rotating the left dodges nothing.
        for n in range(LIMIT):
            response = await get(http, STRANGER, ATTACKER, xff=f"10.9.9.{n}, {ATTACKER}")
            assert response.status_code == 401
        assert (await get(http, STRANGER, ATTACKER)).status_code == 429

    untrusting = app_for(simulator, throttling(proxy_settings(), allow=True, trusted_proxies=()))
    async with scim(untrusting) as http:
        # Nobody is trusted: the header is ignored, every request is the peer's own.
        for n in range(LIMIT):
            response = await get(http, STRANGER, f"192.0.2.{n}")
            assert response.status_code == 401
        assert (await get(http, STRANGER, "192.0.2.200")).status_code == 429


async def test_a_trusted_proxy_range_is_believed(simulator: ASGIApp) -> None:
    # A CIDR range (not just an address) of trusted proxies: the test client is 127.0.0.1.
    settings = throttling(proxy_settings(), allow=True, trusted_proxies=("127.0.0.0/8",))
    app = app_for(simulator, settings)
    async with scim(app) as http:
        for _ in range(LIMIT):
            assert (await get(http, STRANGER, ATTACKER)).status_code == 401
        assert (await get(http, STRANGER, ATTACKER)).status_code == 429
        # Counted under the forwarded address, not the proxy's: the neighbour is let in.
        assert (await get(http, STRANGER, NEIGHBOUR)).status_code == 401


async def test_a_fresh_burst_of_good_requests_from_one_address_is_never_throttled(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    # A new process (nothing proven yet, no allowlist) meets the IdP's first burst, larger
    # than the limit: beyond it, requests wait for a slot instead of getting 429.
    app = app_for(simulator, throttling(proxy_settings(), allow=False))
    before = refusals("throttled")
    async with scim(app) as http:
        answers = await asyncio.gather(*(get(http, TOKEN, ATTACKER) for _ in range(LIMIT * 6)))
    assert [r.status_code for r in answers] == [200] * (LIMIT * 6)
    assert refusals("throttled") == before
    assert len(upstream_calls()) == LIMIT * 6


async def test_a_request_waiting_past_its_patience_gets_503_not_429(simulator: ASGIApp) -> None:
    # TelemetryTV holds the address's only slot longer than half the next request's budget.
    release = asyncio.Event()

    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await simulator(scope, receive, send)

    settings = throttling(proxy_settings(), allow=False, failure_limit=1).replace(
        "server", request_budget_seconds=1
    )
    upstream = httpx.ASGITransport(app=held)
    app = create_app(settings, upstream_transport=upstream, clock=Clock())
    async with scim(app) as http:
        both = [asyncio.ensure_future(get(http, TOKEN, ATTACKER)) for _ in range(2)]
        # (The timeout only keeps a broken build from hanging the suite.)
        done, _ = await asyncio.wait(both, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        release.set()
        assert done, "neither request was answered while TelemetryTV held the first"
        answers = await asyncio.gather(*both)
    # The one that waited gave up; the one holding the slot was then answered.
    waited = done.pop().result()
    assert sorted(r.status_code for r in answers) == [200, 503]
    assert waited.status_code == 503
    assert waited.headers["retry-after"] == "1"
    assert waited.headers["content-type"].startswith("application/scim+json")
    assert "still waiting for TelemetryTV" in waited.json()["detail"]


async def test_a_flood_of_bad_tokens_leaves_the_idps_requests_answered(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    app = app_for(simulator, throttling(proxy_settings(), allow=True, failure_limit=20))
    async with scim(app) as http:
        bad = [
            get(http, f"guess-{n}", f"203.0.113.{n % 50}" if n % 2 else ATTACKER)
            for n in range(3000)
        ]
        good = [get(http, TOKEN, ATTACKER if n % 2 else NEIGHBOUR) for n in range(40)]
        answers = await asyncio.gather(*bad, *good)
    bad_statuses = {r.status_code for r in answers[:3000]}
    assert bad_statuses == {401, 429}
    assert [r.status_code for r in answers[3000:]] == [200] * 40
    assert all(r.json()["totalResults"] >= 3 for r in answers[3000:])
    assert len(upstream_calls()) == 40


async def test_without_an_allowlist_a_concurrent_flood_reaches_telemetrytv_at_most_the_limit(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    app = app_for(simulator, throttling(proxy_settings(), allow=False, failure_limit=20))
    async with scim(app) as http:
        assert (await get(http, TOKEN, ATTACKER)).status_code == 200  # the IdP, proven
        bad = [get(http, f"guess-{n}", ATTACKER) for n in range(2000)]
        good = [get(http, TOKEN, ATTACKER) for _ in range(30)]
        answers = await asyncio.gather(*bad, *good)
    statuses = [r.status_code for r in answers[:2000]]
    assert statuses.count(401) <= 20
    assert set(statuses) == {401, 429}
    assert [r.status_code for r in answers[2000:]] == [200] * 30
    # Guesses in flight count against the limit: at most 20 ever reached TelemetryTV.
    assert len(upstream_calls()) - 31 <= 20


async def test_a_flood_of_distinct_addresses_keeps_the_table_bounded(
    simulator: ASGIApp,
) -> None:
    settings = throttling(proxy_settings(), allow=True, max_tracked_clients=100)
    app = app_for(simulator, settings)
    forgotten = REGISTRY.get_sample_value("scim_proxy_auth_clients_forgotten_total") or 0.0
    async with scim(app) as http:
        for _ in range(LIMIT):
            assert (await get(http, STRANGER, ATTACKER)).status_code == 401
        for n in range(1000):
            address = f"198.18.{n // 250}.{n % 250}"
            assert (await get(http, STRANGER, address)).status_code == 401
            if n % 50 == 0:
                # Still knocking, so still remembered.
                assert (await get(http, STRANGER, ATTACKER)).status_code == 429
        throttle = app.guard.throttle
        assert throttle is not None
        assert len(throttle) <= 100
    now = REGISTRY.get_sample_value("scim_proxy_auth_clients_forgotten_total") or 0.0
    assert now - forgotten >= 900


async def test_an_allowed_token_telemetrytv_refuses_is_logged_but_never_throttled(
    simulator: ASGIApp, upstream_calls: Calls
) -> None:
    # The operator allowlisted a token TelemetryTV has since revoked.
    settings = proxy_settings().replace(
        "auth", allowed_token_sha256=(token_sha256(STRANGER),), failure_limit=LIMIT
    )
    app = app_for(simulator, settings)
    before = refusals("upstream_rejected")
    with capture_logs() as events:
        async with scim(app) as http:
            statuses = [(await get(http, STRANGER, ATTACKER)).status_code for _ in range(LIMIT * 2)]
    assert statuses == [401] * (LIMIT * 2)
    assert len(upstream_calls()) == LIMIT * 2
    assert refusals("upstream_rejected") - before == LIMIT * 2
    assert {e["reason"] for e in events if e["event"] == "auth_refused"} == {"upstream_rejected"}
