"""Membership changes in ``redis`` and ``process`` coordination: exact, without waiting.

The whole app over ASGI against the simulator; ``redis`` mode against a real
redis-server of the test's own. ``verify`` mode keeps its own tests
(test_membership_concurrency.py and friends).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Coordination, Settings
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from scim_proxy.translation.memberships import redis_locks
from scim_proxy.translation.memberships.redis_locks import LOCK_PREFIX, RedisLocks, user_key
from tests.conftest import BASE, TOKEN, UPSTREAM, proxy_settings
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio

USERS = 10
GROUPS = 6
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
Calls = Callable[[], list[tuple[str, str]]]


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """Users to fight over; a little latency lets concurrent requests interleave."""
    return SimulatorSettings(token=TOKEN, users=USERS, latency_ms=2)


def coordinated(mode: Coordination, redis_url: str = "") -> Settings:
    """Test settings in ``mode``; a settle wait long enough to notice if one were taken."""
    return proxy_settings().replace(
        "groups", coordination=mode, redis_url=redis_url, settle_seconds=0.3
    )


@pytest.fixture(params=["redis", "process"])
def settings(request: pytest.FixtureRequest, redis_server: RedisServer) -> Settings:
    """Each test runs in both locked modes."""
    return coordinated(Coordination(request.param), redis_server.url)


@pytest.fixture
def world(store: SimulatorStore) -> tuple[list[str], list[str]]:
    """The seeded users (owner left out) and GROUPS empty groups."""
    users, _ = store.list_users(page=1, per_page=100)
    user_ids = [u["id"] for u in users if u["id"] != store.owner_id]
    group_ids = [store.create_group({"name": f"Push {i}"})["id"] for i in range(GROUPS)]
    return user_ids, group_ids


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


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


@pytest.fixture
async def client(proxy: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the proxy; the proxy's Redis connections are closed afterwards."""
    async with _client(proxy) as http:
        yield http
    await proxy.state.proxy.coordinator.aclose()


def _templated(calls: list[tuple[str, str]]) -> list[str]:
    return [f"{m} {'/users/{id}' if p.startswith('/users/') else p}" for m, p in calls]


async def test_concurrent_adds_and_removes_in_one_process_converge_exactly(
    client: httpx.AsyncClient,
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world
    for group_id in group_ids[1::2]:
        for user_id in user_ids:
            held = store.get_user(user_id)["user_group_ids"]
            store.update_user(user_id, {"user_group_ids": [*held, group_id]})
    leaving = user_ids[: USERS // 2]
    requests = [
        client.patch(f"/Groups/{g}", json=_add(user_ids) if i % 2 == 0 else _remove(leaving))
        for i, g in enumerate(group_ids)
        for _ in range(2)  # every change sent twice at once, as a retrying IdP may
    ]
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [204] * len(requests), [r.text for r in responses]
    even, odd = set(group_ids[0::2]), set(group_ids[1::2])
    expected = {u: even | (set() if u in leaving else odd) for u in user_ids}
    assert _memberships(store, user_ids) == expected


async def test_a_change_of_k_members_costs_one_plus_two_k_calls(
    client: httpx.AsyncClient, world: tuple[list[str], list[str]], upstream_calls: Calls
) -> None:
    user_ids, group_ids = world
    k = len(user_ids)
    before = len(upstream_calls())
    response = await client.patch(f"/Groups/{group_ids[0]}", json=_add(user_ids))
    assert response.status_code == 204, response.text
    cost = _templated(upstream_calls()[before:])
    assert cost[0] == f"GET /user-groups/{group_ids[0]}"
    assert cost.count("GET /users/{id}") == k
    assert cost.count("PATCH /users/{id}") == k
    assert len(cost) == 1 + 2 * k
    before = len(upstream_calls())
    again = await client.patch(f"/Groups/{group_ids[0]}", json=_add(user_ids))
    assert again.status_code == 204
    assert len(upstream_calls()[before:]) == 1 + k
    before = len(upstream_calls())
    removed = await client.patch(f"/Groups/{group_ids[0]}", json=_remove(user_ids[:3]))
    assert removed.status_code == 204
    # Removals are not validated: the read each write starts from is taken under the lock.
    assert len(upstream_calls()[before:]) == 1 + 2 * 3


async def test_an_unknown_member_is_refused_before_anything_is_written(
    client: httpx.AsyncClient,
    redis_server: RedisServer,
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world
    response = await client.patch(
        f"/Groups/{group_ids[0]}", json=_add([*user_ids[:2], "no-such-user"])
    )
    assert response.status_code == 400
    assert "no-such-user" in response.json()["detail"]
    assert all(group_ids[0] not in g for g in _memberships(store, user_ids).values())
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        assert await redis.keys("*") == []  # the locks taken to validate are released


@pytest.fixture
async def two_replicas(
    simulator: ASGIApp, settings: Settings
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two proxy apps (separate in-process locks) sharing the simulator and the Redis."""
    apps = [
        create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
        for _ in range(2)
    ]
    clients = [_client(app) for app in apps]
    yield clients
    for client, app in zip(clients, apps, strict=True):
        await client.aclose()
        await app.state.proxy.coordinator.aclose()


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_two_replicas_coordinating_through_redis_lose_nothing(
    two_replicas: list[httpx.AsyncClient],
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world
    responses = await asyncio.gather(
        *(
            two_replicas[i % 2].patch(f"/Groups/{g}", json=_add(user_ids))
            for i, g in enumerate(group_ids)
        ),
        *(
            two_replicas[i % 2].patch(f"/Groups/{g}", json=_add(user_ids))
            for i, g in enumerate(group_ids)
        ),
    )
    assert all(r.status_code == 204 for r in responses), [r.text for r in responses]
    assert _memberships(store, user_ids) == {u: set(group_ids) for u in user_ids}


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_the_lock_is_named_by_a_hash_of_account_and_user_and_released_after(
    client: httpx.AsyncClient,
    redis_server: RedisServer,
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world
    other = RedisLocks(
        redis_server.url, UPSTREAM, lock_seconds=30, wait_seconds=1, timeout_seconds=1
    )
    held = await other.acquire(user_ids[0], wait=False)
    assert held is not None
    async with aioredis.Redis.from_url(redis_server.url, decode_responses=True) as redis:
        [key] = await redis.keys("*")
        assert key == LOCK_PREFIX + user_key(UPSTREAM, user_ids[0])
        assert TOKEN not in key
        assert user_ids[0] not in key
        change = asyncio.create_task(
            client.patch(f"/Groups/{group_ids[0]}", json=_add(user_ids[:1]))
        )
        await asyncio.sleep(0.2)
        # Another process (any token) holding the user's lock holds this change back.
        assert group_ids[0] not in _memberships(store, user_ids[:1])[user_ids[0]]
        await held.release()
        assert (await change).status_code == 204
        assert group_ids[0] in _memberships(store, user_ids[:1])[user_ids[0]]
        assert await redis.keys("*") == []  # no lock left behind
    await other.aclose()


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_redis_down_falls_back_to_verify_and_its_return_is_picked_up(
    client: httpx.AsyncClient,
    redis_server: RedisServer,
    store: SimulatorStore,
    world: tuple[list[str], list[str]],
) -> None:
    user_ids, group_ids = world

    def counted() -> float:
        return (
            REGISTRY.get_sample_value(
                "scim_proxy_coordination_fallbacks_total", {"reason": "redis_unavailable"}
            )
            or 0.0
        )

    before = counted()
    redis_server.stop()
    with capture_logs() as logs:
        responses = await asyncio.gather(
            client.patch(f"/Groups/{group_ids[0]}", json=_add(user_ids)),
            client.patch(f"/Groups/{group_ids[1]}", json=_add(user_ids)),
        )
    assert [r.status_code for r in responses] == [204, 204], [r.text for r in responses]
    assert _memberships(store, user_ids) == {u: set(group_ids[:2]) for u in user_ids}
    fallbacks = [e for e in logs if e["event"] == "coordination_fallback"]
    assert len(fallbacks) == 2  # one per request
    assert all(f"127.0.0.1:{redis_server.port}" in e["reason"] for e in fallbacks)
    assert counted() == before + 2
    # (The simulator is in-process here, so readiness as a whole is judged by the
    # multi-process test; this checks what the coordination line says.)
    ready = await client.get("http://proxy.test/readyz")
    assert ready.json()["checks"]["coordination"].startswith("degraded: ")
    # Redis comes back: the next probe (or the first request after the back-off) uses it.
    redis_server.start()
    ready = await client.get("http://proxy.test/readyz")
    assert ready.json()["checks"]["coordination"] == f"redis (127.0.0.1:{redis_server.port})"
    with capture_logs() as logs:
        response = await client.patch(f"/Groups/{group_ids[2]}", json=_remove(user_ids[:2]))
    assert response.status_code == 204
    assert not [e for e in logs if e["event"] == "coordination_fallback"]
    assert counted() == before + 2


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_redis_coming_back_is_tried_again_after_the_back_off(
    client: httpx.AsyncClient,
    redis_server: RedisServer,
    world: tuple[list[str], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_ids, group_ids = world
    monkeypatch.setattr(redis_locks, "BACKOFF_SECONDS", 0.0)
    redis_server.stop()
    with capture_logs() as logs:
        assert (
            await client.patch(f"/Groups/{group_ids[0]}", json=_add(user_ids[:1]))
        ).status_code == 204
    assert [e["event"] for e in logs if "coordination" in e["event"]] == [
        "coordination_degraded",
        "coordination_fallback",
    ]
    redis_server.start()
    with capture_logs() as logs:
        assert (
            await client.patch(f"/Groups/{group_ids[1]}", json=_add(user_ids[:1]))
        ).status_code == 204
    assert [e["event"] for e in logs if "coordination" in e["event"]] == ["coordination_restored"]
