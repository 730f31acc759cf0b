"""Membership requests when TelemetryTV throttles or fails a read while they run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from scim_proxy.simulator import SimulatorStore
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Faulty(httpx.AsyncBaseTransport):
    """The simulator, but user reads meet ``fault`` (once, or always)."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.fault: httpx.Response | None = None
        self.always = False
        self.user_reads = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.startswith("/users/"):
            self.user_reads += 1
            if self.fault is not None:
                fault = self.fault
                if not self.always:
                    self.fault = None
                return fault
        return await self.inner.handle_async_request(request)


@pytest.fixture
def faulty(simulator: ASGIApp) -> Faulty:
    """The upstream transport of the proxy under test."""
    return Faulty(simulator)


@pytest.fixture
async def client(faulty: Faulty) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a proxy whose user reads can be made to fail."""
    settings = proxy_settings().replace("upstream", breaker_failures=1000)
    app = create_app(settings, upstream_transport=faulty)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http


def _users(store: SimulatorStore) -> list[str]:
    users, _ = store.list_users(page=1, per_page=100)
    return [u["id"] for u in users if u["id"] != store.owner_id]


async def test_a_put_whose_member_read_failed_once_still_answers_the_group(
    client: httpx.AsyncClient, store: SimulatorStore, faulty: Faulty
) -> None:
    group = store.create_group({"name": "AIW push"})["id"]
    members = _users(store)[:2]
    faulty.fault = httpx.Response(500, json={"error": "boom"})  # not retried: a 500
    response = await client.put(
        f"/Groups/{group}",
        json={"displayName": "AIW push", "members": [{"value": m} for m in members]},
    )
    assert response.status_code == 200, response.text
    assert {m["value"] for m in response.json()["members"]} == set(members)


async def test_a_throttled_push_stops_and_passes_the_wait_on(
    client: httpx.AsyncClient, store: SimulatorStore, faulty: Faulty
) -> None:
    group = store.create_group({"name": "Throttled"})["id"]
    members = _users(store)
    faulty.fault = httpx.Response(429, headers={"Retry-After": "120"}, json={"error": "slow"})
    faulty.always = True
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in members]}],
    }
    response = await client.patch(f"/Groups/{group}", json=body)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "120"
    # One read per member at most: no rounds of re-reads against a throttled account.
    assert faulty.user_reads <= len(members)
