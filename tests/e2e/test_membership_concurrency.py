"""No membership change is lost when many requests touch the same users at once.

Every membership is a read-modify-write of one user's group list, so concurrent writers
can undo each other. These tests fire many concurrent changes at the same users, through
one proxy and through two proxies (separate locks, as separate replicas have) sharing one
TelemetryTV, and check the exact final memberships. A control shows the same workload
does lose updates when written naively, so the tests can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.directory import UserChanges
from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from scim_proxy.telemetrytv import TelemetryTV
from tests.conftest import BASE, TOKEN, UPSTREAM, proxy_settings

pytestmark = pytest.mark.anyio

GROUPS = 8
USERS = 12
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """A dozen users to fight over; a little latency lets concurrent requests interleave."""
    return SimulatorSettings(token=TOKEN, users=USERS, latency_ms=2)


def racing_settings() -> Settings:
    """Production's ratio of settle wait to read age (4:1), scaled down; reads are reused."""
    return proxy_settings().replace("groups", settle_seconds=0.2, max_read_age_seconds=0.05)


@pytest.fixture
def settings() -> Settings:
    """The proxy under test uses the racing settings."""
    return racing_settings()


@pytest.fixture
def world(store: SimulatorStore) -> tuple[list[str], list[str]]:
    """The seeded users (owner left out) and GROUPS empty groups."""
    users, _ = store.list_users(page=1, per_page=100)
    user_ids = [u["id"] for u in users if u["id"] != store.owner_id]
    group_ids = [store.create_group({"name": f"Push {i}"})["id"] for i in range(GROUPS)]
    return user_ids, group_ids


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


@pytest.fixture
async def two_proxies(simulator: ASGIApp) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two proxy apps (two replicas: separate locks) in front of one simulator."""
    clients = []
    for _ in range(2):
        upstream = httpx.ASGITransport(app=simulator)
        clients.append(_client(create_app(racing_settings(), upstream_transport=upstream)))
    yield clients
    for client in clients:
        await client.aclose()


def _add(user_ids: list[str]) -> dict[str, object]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}],
    }


def _remove(user_ids: list[str]) -> dict[str, object]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{u}"]'} for u in user_ids],
    }


def _memberships(store: SimulatorStore, user_ids: list[str]) -> dict[str, set[str]]:
    return {u: set(store.get_user(u)["user_group_ids"]) for u in user_ids}


async def test_the_workload_loses_updates_when_written_naively(
    simulator: ASGIApp, store: SimulatorStore, world: tuple[list[str], list[str]]
) -> None:
    user_ids, group_ids = world
    upstream = TelemetryTV(httpx.ASGITransport(app=simulator), base_url=UPSTREAM)
    session = upstream.session(TOKEN)

    async def naive_add(user_id: str, group_id: str) -> None:
        user = await session.get_user(user_id)
        await session.update_user(user_id, UserChanges(group_ids=(*user.group_ids, group_id)))

    await asyncio.gather(*(naive_add(u, g) for g in group_ids for u in user_ids))
    held = _memberships(store, user_ids)
    assert any(groups != set(group_ids) for groups in held.values())


async def test_concurrent_adds_through_one_proxy_all_take_effect(
    client: httpx.AsyncClient, store: SimulatorStore, world: tuple[list[str], list[str]]
) -> None:
    user_ids, group_ids = world
    responses = await asyncio.gather(
        *(client.patch(f"/Groups/{g}", json=_add(user_ids)) for g in group_ids)
    )
    assert [r.status_code for r in responses] == [204] * GROUPS
    assert _memberships(store, user_ids) == {u: set(group_ids) for u in user_ids}


async def test_concurrent_adds_and_removes_through_two_proxies_converge_exactly(
    two_proxies: list[httpx.AsyncClient],
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world
    # Everyone starts in the odd groups; the odd groups then lose the first half of the
    # users while the even groups gain everyone, all at once, through both proxies.
    for group_id in group_ids[1::2]:
        for user_id in user_ids:
            held = store.get_user(user_id)["user_group_ids"]
            store.update_user(user_id, {"user_group_ids": [*held, group_id]})
    leaving = user_ids[: USERS // 2]
    requests = []
    for index, group_id in enumerate(group_ids):
        proxy = two_proxies[index % 2]
        body = _add(user_ids) if index % 2 == 0 else _remove(leaving)
        requests.append(proxy.patch(f"/Groups/{group_id}", json=body))
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [204] * GROUPS

    even, odd = set(group_ids[0::2]), set(group_ids[1::2])
    expected = {u: even | (set() if u in leaving else odd) for u in user_ids}
    assert _memberships(store, user_ids) == expected


async def test_a_group_push_while_the_users_are_updated_keeps_both(
    two_proxies: list[httpx.AsyncClient],
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world
    renames = [
        two_proxies[1].patch(
            f"/Users/{u}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "name.givenName", "value": f"Renamed{i}"}],
            },
        )
        for i, u in enumerate(user_ids)
    ]
    pushes = [two_proxies[0].patch(f"/Groups/{g}", json=_add(user_ids)) for g in group_ids]
    responses = await asyncio.gather(*renames, *pushes)
    assert all(r.status_code in (200, 204) for r in responses)
    for index, user_id in enumerate(user_ids):
        held = store.get_user(user_id)
        assert held["first_name"] == f"Renamed{index}"
        assert set(held["user_group_ids"]) == set(group_ids)
