"""The token allowlist, end to end: only the listed tokens reach TelemetryTV.

The proxy runs in front of the simulator in-process; "no upstream call" is read from the
simulator's own record of the requests it received.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.auth_guard.allowlist import token_sha256
from scim_proxy.ops.config import Settings
from scim_proxy.ops.fingerprint import token_fingerprint
from tests.conftest import BASE, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio

STRANGER = "stranger-guess-91c2e7"


def allowing(*tokens: str) -> Settings:
    return proxy_settings().replace(
        "auth", allowed_token_sha256=tuple(token_sha256(t) for t in tokens)
    )


def refusals(reason: str) -> float:
    value = REGISTRY.get_sample_value("scim_proxy_auth_refusals_total", {"reason": reason})
    return value or 0.0


def client(app: ASGIApp, token: str | None, **headers: str) -> httpx.AsyncClient:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


@pytest.fixture
def allowlisted(simulator: ASGIApp) -> ASGIApp:
    return create_app(allowing(TOKEN), upstream_transport=httpx.ASGITransport(app=simulator))


async def test_an_allowed_token_works(
    allowlisted: ASGIApp, upstream_calls: Callable[[], list[tuple[str, str]]]
) -> None:
    async with client(allowlisted, TOKEN) as http:
        listed = await http.get("/Users", params={"count": 2})
        created = await http.post("/Users", json=fixture("okta/create-user"))
    assert listed.status_code == 200, listed.text
    assert listed.json()["totalResults"] >= 3
    assert created.status_code == 201, created.text
    assert len(upstream_calls()) >= 2


async def test_another_token_is_refused_with_no_upstream_call(
    allowlisted: ASGIApp, upstream_calls: Callable[[], list[tuple[str, str]]]
) -> None:
    before = refusals("not_allowed")
    with capture_logs() as events:
        async with client(allowlisted, STRANGER) as http:
            responses = [
                await http.get("/Users", params={"count": 2}),
                await http.get("/Users/65a1f0c2e4b0a1b2c3d4e5f6"),
                await http.post("/Users", json=fixture("okta/create-user")),
                await http.patch("/Groups/abc", json={"Operations": []}),
            ]
    assert upstream_calls() == []
    for response in responses:
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/scim+json")
        assert response.headers["www-authenticate"].startswith("Bearer")
        body = response.json()
        assert body["status"] == "401"
        assert "auth.allowed_token_sha256" in body["detail"]
        assert STRANGER not in response.text
        assert token_sha256(STRANGER) not in response.text
    assert refusals("not_allowed") - before == 4
    refused = [e for e in events if e["event"] == "auth_refused"]
    assert len(refused) == 4
    assert {e["reason"] for e in refused} == {"not_allowed"}
    assert {e["token_fingerprint"] for e in refused} == {token_fingerprint(STRANGER)}
    requests = [e for e in events if e["event"] == "request"]
    assert {e["token_fingerprint"] for e in requests} == {token_fingerprint(STRANGER)}


async def test_the_allowlist_matches_digests_in_any_case(simulator: ASGIApp) -> None:
    settings = proxy_settings().replace(
        "auth", allowed_token_sha256=("0" * 64, token_sha256(TOKEN).upper())
    )
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    async with client(app, TOKEN) as http:
        assert (await http.get("/Users", params={"count": 1})).status_code == 200


async def test_without_an_allowlist_every_token_is_forwarded_as_before(
    proxy: ASGIApp, upstream_calls: Callable[[], list[tuple[str, str]]]
) -> None:
    async with client(proxy, STRANGER) as http:
        refused = await http.get("/Users", params={"count": 1})
    assert refused.status_code == 401
    assert len(upstream_calls()) == 1
    assert "TelemetryTV" in refused.json()["detail"]


async def test_discovery_needs_no_token_but_refuses_a_wrong_one(allowlisted: ASGIApp) -> None:
    async with client(allowlisted, None) as http:
        assert (await http.get("/ServiceProviderConfig")).status_code == 200
        assert (await http.get("/Users")).status_code == 401
    async with client(allowlisted, STRANGER) as http:
        assert (await http.get("/ServiceProviderConfig")).status_code == 401


async def test_upstream_401s_never_open_the_breaker(
    simulator: ASGIApp, upstream_calls: Callable[[], list[tuple[str, str]]]
) -> None:
    settings = proxy_settings().replace("auth", failure_limit=0)
    settings = settings.replace("upstream", breaker_failures=2)
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    async with client(app, STRANGER) as http:
        for _ in range(10):
            assert (await http.get("/Users", params={"count": 1})).status_code == 401
    assert len(upstream_calls()) == 10
    assert app.state.proxy.upstream.breaker.state.value == "closed"
    async with client(app, TOKEN) as http:
        assert (await http.get("/Users", params={"count": 1})).status_code == 200


async def test_every_path_but_health_and_metrics_is_guarded(
    allowlisted: ASGIApp, upstream_calls: Callable[[], list[tuple[str, str]]]
) -> None:
    async with client(allowlisted, STRANGER) as http:
        for path in ("/scim/v2/Users", "/SCIM/v2/Users", "//scim//v2/Users/", "/Users", "/"):
            response = await http.get(f"http://proxy.test{path}")
            assert response.status_code == 401, path
        assert (await http.get("http://proxy.test/healthz")).status_code == 200
        assert (await http.get("http://proxy.test/metrics")).status_code == 200
    assert upstream_calls() == []


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


async def test_okta_basic_auth_with_the_token_as_password_works(
    allowlisted: ASGIApp,
) -> None:
    async with client(allowlisted, None, Authorization=basic("okta", TOKEN)) as http:
        with capture_logs() as logs:
            listed = await http.get("/Users", params={"count": 1})
    assert listed.status_code == 200, listed.text
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["auth_scheme"] == "basic"


async def test_basic_credentials_whose_password_is_not_the_token_say_so(
    simulator: ASGIApp,
) -> None:
    # What `curl -u user:pass` sends: the password is the token checked, and refused.
    plain = create_app(proxy_settings(), upstream_transport=httpx.ASGITransport(app=simulator))
    for app, reason in ((plain, "token_refused_by_telemetrytv"),):
        async with client(app, None, Authorization=basic("user", "pass")) as http:
            with capture_logs() as logs:
                refused = await http.get("/Users")
        assert refused.status_code == 401
        assert "Basic password" in refused.json()["detail"]
        [event] = [e for e in logs if e["event"] == "request"]
        assert (event["reason"], event["auth_scheme"]) == (reason, "basic")
        [auth] = [e for e in logs if e["event"] == "auth_refused"]
        assert auth["auth_scheme"] == "basic"


async def test_basic_credentials_outside_the_allowlist_say_so(allowlisted: ASGIApp) -> None:
    async with client(allowlisted, None, Authorization=basic("user", "pass")) as http:
        with capture_logs() as logs:
            refused = await http.get("/Users")
    assert refused.status_code == 401
    assert "Basic password" in refused.json()["detail"]
    [event] = [e for e in logs if e["event"] == "request"]
    assert (event["reason"], event["auth_scheme"]) == ("token_not_allowed", "basic")
