"""Transport-level behaviour: auth schemes, routing errors, JSON bodies, request log."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
import uvicorn

from scim_proxy.simulator import RecordedRequest, SimulatorSettings, create_simulator_app
from scim_proxy.simulator import server as server_module

from .conftest import Sim

pytestmark = pytest.mark.anyio


def basic(username: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


async def get_users_with(sim: Sim, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    # Replace the client's default Token header for this one request.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://telemetrytv.test"
    ) as client:
        return await client.get("/users", headers=headers)


@pytest.mark.parametrize(
    "authorization",
    [
        "Token sim-token",
        "token sim-token",
        "TOKEN   sim-token",
        basic("sim-token"),
        basic("sim-token", "any password at all"),
        "basic " + base64.b64encode(b"sim-token:").decode(),
    ],
)
async def test_token_and_basic_schemes_are_accepted_by_default(
    sim: Sim, authorization: str
) -> None:
    response = await get_users_with(sim, authorization)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Token wrong-token",
        "Token",
        "Token sim-token-and-more",
        "sim-token",
        basic("wrong-token"),
        basic("", "sim-token"),
        "Basic " + base64.b64encode(b"sim-token").decode(),  # no colon
        "Basic !!not-base64!!",
        "Bearer sim-token",
        "Digest sim-token",
    ],
)
async def test_bad_or_missing_credentials_are_401_with_message_body(
    sim: Sim, authorization: str | None
) -> None:
    response = await get_users_with(sim, authorization)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Token ")


async def test_bearer_is_accepted_when_enabled(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(auth_schemes=("bearer",))
    assert (await get_users_with(sim, "Bearer sim-token")).status_code == 200
    assert (await get_users_with(sim, "bearer sim-token")).status_code == 200
    assert (await get_users_with(sim, "Bearer other")).status_code == 401


async def test_disabled_schemes_are_refused_even_with_the_right_token(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(auth_schemes=("bearer",))
    assert (await get_users_with(sim, "Token sim-token")).status_code == 401
    assert (await get_users_with(sim, basic("sim-token"))).status_code == 401


async def test_custom_token_replaces_the_default(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(token="s3cret")
    assert (await get_users_with(sim, "Token s3cret")).status_code == 200
    assert (await get_users_with(sim, "Token sim-token")).status_code == 401


async def test_auth_is_checked_before_routing(sim: Sim) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://telemetrytv.test"
    ) as client:
        response = await client.get("/no-such-route")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize("path", ["/", "/no-such-route", "/users/", "/users/x/y", "/groups"])
async def test_unknown_route_is_json_404(sim: Sim, path: str) -> None:
    response = await sim.client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/users", {"GET", "HEAD", "POST"}),
        ("DELETE", "/users", {"GET", "HEAD", "POST"}),
        ("POST", "/users/abc", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("PUT", "/user-groups/abc", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("PATCH", "/user-groups", {"GET", "HEAD", "POST"}),
    ],
)
async def test_wrong_method_is_json_405_with_allow_header(
    sim: Sim, method: str, path: str, allowed: set[str]
) -> None:
    response = await sim.client.request(method, path)
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed"}
    assert set(response.headers["allow"].split(", ")) == allowed


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"[]", b'"text"', b"null", b"42"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/users"), ("PATCH", "/users/{owner}"), ("POST", "/user-groups")],
)
async def test_unparsable_or_non_object_body_is_400(
    sim: Sim, body: bytes, method: str, path: str
) -> None:
    url = path.format(owner=sim.store.owner_id)
    response = await sim.client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid JSON body"}


async def test_request_log_records_every_request_in_order(sim: Sim) -> None:
    await sim.client.get("/users", params={"page": "2", "per_page": "5"})
    await sim.client.get("/nowhere")
    await sim.client.delete("/users/abc")
    await get_users_with(sim, None)  # unauthorised requests are logged too
    assert sim.requests == [
        RecordedRequest("GET", "/users", "page=2&per_page=5"),
        RecordedRequest("GET", "/nowhere", ""),
        RecordedRequest("DELETE", "/users/abc", ""),
        RecordedRequest("GET", "/users", ""),
    ]
    assert [(method, path) for method, path, _ in sim.requests][:1] == [("GET", "/users")]


async def test_each_app_has_its_own_state(make_sim: Callable[..., Sim]) -> None:
    first, second = make_sim(), make_sim()
    await first.create_user("only-here@example.com")
    await first.client.get("/users")
    assert second.requests == []
    assert second.store.user_count == 1
    assert first.store.user_count == 2


async def test_unexpected_error_is_json_500(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(user_id: str) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(sim.store, "get_user", explode)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app, raise_app_exceptions=False),
        base_url="http://telemetrytv.test",
        headers={"Authorization": "Token sim-token"},
    ) as client:
        response = await client.get(f"/users/{sim.store.owner_id}")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}


async def test_app_exposes_store_and_settings() -> None:
    settings = SimulatorSettings(users=2)
    app = create_simulator_app(settings)
    assert app.state.settings is settings
    assert app.state.store.user_count == 3
    assert app.state.requests == []


def test_run_simulator_serves_the_app_with_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: configs.append(self.config))
    server_module.run_simulator(SimulatorSettings(users=1), "127.0.0.1", 8099)
    [config] = configs
    assert (config.host, config.port, config.log_level) == ("127.0.0.1", 8099, "warning")
    assert config.app.state.store.user_count == 2  # type: ignore[union-attr]
