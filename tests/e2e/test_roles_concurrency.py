"""A role change and a group push touching the same users at once lose nothing.

Both are read-modify-writes of the same ``user_group_ids``: role PATCHes through one
replica and group pushes through another (separate locks, one TelemetryTV), all at once;
every user must end with exactly the pushed groups plus the granted roles, without the
revoked one. The naive control in test_membership_concurrency shows the workload can lose
updates when written without the membership path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

USERS = 8
PUSHED = 4
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """Users to fight over; a little latency lets concurrent requests interleave."""
    return SimulatorSettings(token=TOKEN, users=USERS, latency_ms=2)


def racing_settings() -> Settings:
    """As test_membership_concurrency: production's 4:1 settle to read age, scaled down."""
    return proxy_settings().replace("groups", settle_seconds=0.2, max_read_age_seconds=0.05)


@pytest.fixture
async def two_replicas(simulator: ASGIApp) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two proxy apps (separate locks and name listings) in front of one simulator."""
    clients = []
    for _ in range(2):
        upstream = httpx.ASGITransport(app=simulator)
        app = create_app(racing_settings(), upstream_transport=upstream)
        clients.append(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=BASE,
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        )
    yield clients
    for client in clients:
        await client.aclose()


async def test_role_changes_and_group_pushes_on_the_same_users_keep_both(
    two_replicas: list[httpx.AsyncClient], store: SimulatorStore
) -> None:
    users, _ = store.list_users(page=1, per_page=100)
    user_ids = [u["id"] for u in users if u["id"] != store.owner_id]
    pushed = [str(store.create_group({"name": f"Push {i}"})["id"]) for i in range(PUSHED)]
    granted = {name: str(store.create_group({"name": name})["id"]) for name in ("Lobby", "Menu")}
    revoked = str(store.create_group({"name": "Night Shift"})["id"])
    for user_id in user_ids:
        store.update_user(user_id, {"user_group_ids": [revoked]})

    role_changes = [
        two_replicas[1].patch(
            f"/Users/{user_id}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [
                    # Entra's shape for two app roles by name, and Okta's removal by id.
                    {"op": "Add", "path": "roles", "value": [{"value": "Lobby"}]},
                    {"op": "add", "path": "roles", "value": [{"value": granted["Menu"]}]},
                    {"op": "remove", "path": f'roles[value eq "{revoked}"]'},
                ],
            },
        )
        for user_id in user_ids
    ]
    pushes = [
        two_replicas[0].patch(
            f"/Groups/{group_id}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}
                ],
            },
        )
        for group_id in pushed
    ]
    responses = await asyncio.gather(*role_changes, *pushes)
    assert all(r.status_code in (200, 204) for r in responses), [r.text for r in responses]

    expected = set(pushed) | set(granted.values())
    held = {u: set(store.get_user(u)["user_group_ids"]) for u in user_ids}
    assert held == {u: expected for u in user_ids}
