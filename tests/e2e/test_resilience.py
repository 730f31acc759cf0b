"""Resilience and routing of the whole app: breaker, rate limits, retries, limits, TLS opt-out.

Upstream calls go to an in-process handler that counts them (and forwards to the simulator
when the test wants real answers). No test measures time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from tests.conftest import BASE, TOKEN, UPSTREAM, fixture, proxy_settings
from tests.processes import free_port, start, stop, wait_until_up

pytestmark = pytest.mark.anyio

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
UPSTREAM_HOST = urlsplit(UPSTREAM).hostname
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Upstream:
    """An upstream that records every call and answers through ``answer``."""

    answer: Handler
    calls: list[httpx.Request] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return await self.answer(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def forwarding_to(simulator: ASGIApp) -> Handler:
    transport = httpx.ASGITransport(app=simulator)

    async def forward(request: httpx.Request) -> httpx.Response:
        return await transport.handle_async_request(request)

    return forward


def scim_client(app: ASGIApp, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}", **headers},
    )


def assert_scim_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body: dict[str, object] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body["detail"]
    return body


def retry_after_of(response: httpx.Response) -> int:
    raw = response.headers["retry-after"]
    assert raw.isdigit(), raw
    return int(raw)


# -- circuit breaker -----------------------------------------------------------------


@pytest.fixture
async def down() -> AsyncIterator[tuple[httpx.AsyncClient, Upstream, Settings]]:
    """A proxy in front of a TelemetryTV that refuses every connection."""

    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    upstream = Upstream(refuse)
    settings = proxy_settings().replace("upstream", breaker_failures=2)
    app = create_app(settings, upstream_transport=upstream.transport())
    async with scim_client(app) as http:
        yield http, upstream, settings


async def test_with_telemetrytv_down_an_open_breaker_answers_503_without_calling_it(
    down: tuple[httpx.AsyncClient, Upstream, Settings],
) -> None:
    http, upstream, settings = down
    first = await http.get("/Users/abc")
    assert_scim_error(first, 503)
    assert len(upstream.calls) == settings.upstream.breaker_failures  # then the breaker opened
    requests = [
        ("GET", "/Users/abc", None),
        ("GET", "/Users", None),
        ("GET", '/Users?filter=userName eq "ada@example.com"', None),
        ("POST", "/Users", fixture("okta/create-user")),
        ("GET", "/Groups", None),
        ("PATCH", "/Users/abc", fixture("okta/patch-deactivate-user")),
    ]
    for method, path, body in requests:
        response = await http.request(method, path, json=body)
        assert_scim_error(response, 503)
        wait = retry_after_of(response)
        assert 1 <= wait <= settings.upstream.breaker_cooldown_seconds
    assert len(upstream.calls) == settings.upstream.breaker_failures


# -- rate limiting and retries -------------------------------------------------------


async def test_a_retry_after_beyond_the_budget_goes_back_to_the_client_after_one_call() -> None:
    async def throttle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"error": "slow down"})

    upstream = Upstream(throttle)
    settings = proxy_settings().replace("server", request_budget_seconds=5)
    app = create_app(settings, upstream_transport=upstream.transport())
    async with scim_client(app) as http:
        response = await http.get("/Users/abc")
    assert_scim_error(response, 429)
    assert response.headers["retry-after"] == "30"
    assert len(upstream.calls) == 1


async def test_a_503_then_200_upstream_is_invisible_to_the_client(simulator: ASGIApp) -> None:
    forward = forwarding_to(simulator)
    failures = [httpx.Response(503, json={"error": "bad minute"})]

    async def flaky(request: httpx.Request) -> httpx.Response:
        return failures.pop() if failures else await forward(request)

    upstream = Upstream(flaky)
    # Roles off: the count below is the users listing's attempts alone (no groups' names).
    settings = proxy_settings().replace("roles", enabled=False)
    app = create_app(settings, upstream_transport=upstream.transport())
    with capture_logs() as logs:
        async with scim_client(app) as http:
            response = await http.get("/Users", params={"count": 2})
    assert response.status_code == 200, response.text
    assert len(response.json()["Resources"]) == 2
    outcome = [e for e in logs if e["event"] == "request"]
    assert len(outcome) == 1
    assert outcome[0]["status"] == 200
    assert outcome[0]["upstream_retries"] == 1
    assert outcome[0]["upstream_calls"] == len(upstream.calls) == 2


# -- inbound limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/Users"),
        ("PUT", "/Users/abc"),
        ("PATCH", "/Users/abc"),
        ("POST", "/Groups"),
        ("PUT", "/Groups/abc"),
        ("PATCH", "/Groups/abc"),
    ],
)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_413_without_an_upstream_call(
    simulator: ASGIApp, method: str, path: str, declared: bool
) -> None:
    upstream = Upstream(forwarding_to(simulator))
    settings = proxy_settings().replace("server", max_body_bytes=2048)
    app = create_app(settings, upstream_transport=upstream.transport())
    body = b'{"userName": "' + b"a" * 4096 + b'@example.com"}'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    async with scim_client(app, **{"Content-Type": "application/scim+json"}) as http:
        response = await http.request(method, path, content=body if declared else chunks())
    assert_scim_error(response, 413)
    assert upstream.calls == []


async def test_a_body_that_stops_arriving_is_408_without_an_upstream_call(
    simulator: ASGIApp,
) -> None:
    upstream = Upstream(forwarding_to(simulator))
    settings = proxy_settings().replace("server", body_timeout_seconds=0.1)
    app = create_app(settings, upstream_transport=upstream.transport())
    released = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b'{"userName": "slow@example.com", '
        await released.wait()  # the rest never comes while the proxy waits
        yield b'"active": true}'

    async with scim_client(app, **{"Content-Type": "application/scim+json"}) as http:
        try:
            response = await http.post("/Users", content=stalls())
        finally:
            released.set()
    assert_scim_error(response, 408)
    assert upstream.calls == []


# -- routing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example:8443"},
        {"Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "host=evil.example"},
    ],
)
async def test_request_headers_never_change_where_upstream_calls_go(
    simulator: ASGIApp, headers: dict[str, str]
) -> None:
    upstream = Upstream(forwarding_to(simulator))
    app = create_app(proxy_settings(), upstream_transport=upstream.transport())
    async with scim_client(app, **headers) as http:
        listed = await http.get("/Users", params={"count": 1})
        assert listed.status_code == 200, listed.text
        user_id = listed.json()["Resources"][0]["id"]
        assert (await http.get(f"/Users/{user_id}")).status_code == 200
        assert (await http.post("/Users", json=fixture("okta/create-user"))).status_code == 201
        assert (await http.post("/Groups", json=fixture("okta/group-create"))).status_code == 201
    assert len(upstream.calls) >= 4
    seen = {(r.url.scheme, r.url.host, r.url.port) for r in upstream.calls}
    assert seen == {("http", UPSTREAM_HOST, None)}
    assert all(r.headers["host"] == UPSTREAM_HOST for r in upstream.calls)


# -- TLS verification opt-out --------------------------------------------------------


def _serve_output(env: dict[str, str]) -> str:
    port = free_port()
    process = start(
        "serve", "--port", str(port), "--upstream", "https://telemetrytv.invalid", env=env
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        output = stop(process)
    return output


def test_skipping_tls_verification_prints_a_warning_naming_the_setting() -> None:
    output = _serve_output({"SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY": "true"})
    warnings = [line for line in output.splitlines() if line.startswith("scim-proxy: WARNING:")]
    assert len(warnings) == 1, output
    assert "upstream.insecure_skip_tls_verify" in warnings[0]
    assert "NOT verified" in warnings[0]


def test_tls_verification_on_by_default_prints_no_warning() -> None:
    output = _serve_output({})
    assert "WARNING" not in output
    assert "insecure_skip_tls_verify" not in output
