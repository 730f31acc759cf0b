"""A membership PATCH that fails partway says so, and sending it again converges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from scim_proxy.http.app import create_app
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

MEMBERS = 30


class FlakyTransport(httpx.AsyncBaseTransport):
    """Passes requests to the simulator, failing every third user write while ``failing``."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.failing = True
        self.writes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and request.url.path.startswith("/users/"):
            self.writes += 1
            if self.failing and self.writes % 3 == 0:
                return httpx.Response(503, json={"error": "Service Unavailable"})
        return await self.inner.handle_async_request(request)


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """Enough users for a push that fails partway."""
    return SimulatorSettings(token=TOKEN, users=MEMBERS)


@pytest.fixture
def flaky(simulator: Starlette) -> FlakyTransport:
    """The upstream transport of the proxy under test."""
    return FlakyTransport(simulator)


@pytest.fixture
async def client(flaky: FlakyTransport) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a proxy whose upstream fails every third user write."""
    app = create_app(proxy_settings(), http_client=httpx.AsyncClient(transport=flaky))
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
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}],
    }

    failed = await client.patch(f"/Groups/{group_id}", json=body)
    assert failed.status_code in (502, 503)
    error = failed.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "Send the request again" in error["detail"]
    held = {u for u in user_ids if group_id in store.get_user(u)["user_group_ids"]}
    assert 0 < len(held) < MEMBERS, "the failure must have come partway"

    flaky.failing = False
    replayed = await client.patch(f"/Groups/{group_id}", json=body)
    assert replayed.status_code == 204
    assert {u for u in user_ids if group_id in store.get_user(u)["user_group_ids"]} == set(user_ids)
