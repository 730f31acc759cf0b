"""A membership PATCH that fails partway says so, and sending it again converges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

MEMBERS = 30


class FlakyTransport(httpx.AsyncBaseTransport):
    """Passes requests to the simulator; writes to ``broken`` users fail while ``failing``."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.failing = True
        self.broken: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        user = request.url.path.removeprefix("/users/")
        if self.failing and request.method == "PATCH" and user in self.broken:
            return httpx.Response(503, json={"error": "Service Unavailable"})
        return await self.inner.handle_async_request(request)


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """Enough users for a push that fails partway."""
    return SimulatorSettings(token=TOKEN, users=MEMBERS)


@pytest.fixture
def flaky(simulator: ASGIApp) -> FlakyTransport:
    """The upstream transport of the proxy under test."""
    return FlakyTransport(simulator)


@pytest.fixture
async def client(flaky: FlakyTransport) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a proxy whose upstream fails the writes of some users."""
    # A breaker that never opens, so the replay is not refused while it cools down.
    settings = proxy_settings().replace("upstream", breaker_failures=1000)
    app = create_app(settings, upstream_transport=flaky)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http


async def test_a_push_that_fails_partway_is_an_error_and_a_replay_converges(
    client: httpx.AsyncClient, store: SimulatorStore, flaky: FlakyTransport
) -> None:
    users, _ = store.list_users(page=1, per_page=100)
    user_ids = [u["id"] for u in users if u["id"] != store.owner_id]
    group_id = store.create_group({"name": "Big push"})["id"]
    flaky.broken = set(user_ids[::3])
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}],
    }

    failed = await client.patch(f"/Groups/{group_id}", json=body)
    assert failed.status_code in (502, 503)
    error = failed.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "send the request again" in error["detail"]
    held = {u for u in user_ids if group_id in store.get_user(u)["user_group_ids"]}
    assert held == set(user_ids) - flaky.broken, "every write that could succeed did"
    assert f"{len(held)} of {MEMBERS} changes are in place" in error["detail"]

    flaky.failing = False
    replayed = await client.patch(f"/Groups/{group_id}", json=body)
    assert replayed.status_code == 204
    assert {u for u in user_ids if group_id in store.get_user(u)["user_group_ids"]} == set(user_ids)
