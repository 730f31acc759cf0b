"""The coordinated read-modify-write of one user's group list, in every mode.

``MembershipWriter.change_user`` is what group pushes and role changes build on: after it
returns the change is in place; when it cannot be put in place it raises, never returning.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.requests import Request
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import build_upstream
from scim_proxy.http.state import membership_writer
from scim_proxy.ops.config import Coordination, Settings
from scim_proxy.scim.errors import ScimError
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from scim_proxy.telemetrytv.errors import NotFound
from scim_proxy.translation.memberships import Coordinator, MembershipWriter
from scim_proxy.translation.memberships.redis_locks import LOCK_PREFIX, RedisLocks
from tests.conftest import TOKEN, proxy_settings
from tests.redis_server import RedisServer
from tests.translation.memberships.seeding import groups_of, seeded_user_and_groups

pytestmark = pytest.mark.anyio

Writers = Callable[..., MembershipWriter]


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """A couple of users; some latency so that concurrent changes interleave."""
    return SimulatorSettings(token=TOKEN, users=2, latency_ms=3)


@pytest.fixture(params=["redis", "process", "verify"])
def settings(request: pytest.FixtureRequest, redis_server: RedisServer) -> Settings:
    """Every test runs in every mode."""
    return proxy_settings().replace(
        "groups", coordination=Coordination(request.param), redis_url=redis_server.url
    )


@pytest.fixture
async def writer(
    simulator: ASGIApp, settings: Settings
) -> AsyncIterator[Callable[..., MembershipWriter]]:
    """Makes writers; each call is a new process (own locks) unless ``replica`` repeats."""
    coordinators: dict[int, Coordinator] = {}

    def make(
        replica: int = 0, transport: httpx.AsyncBaseTransport | None = None
    ) -> MembershipWriter:
        coordinator = coordinators.setdefault(replica, Coordinator(settings))
        upstream = transport or httpx.ASGITransport(app=simulator)
        session = build_upstream(settings, upstream).session(TOKEN)
        return MembershipWriter(session, settings.groups, coordinator)

    yield make
    for coordinator in coordinators.values():
        await coordinator.aclose()


@pytest.fixture
def user_and_groups(store: SimulatorStore) -> tuple[str, list[str]]:
    """A seeded user and four groups."""
    return seeded_user_and_groups(store, 4)


async def test_add_remove_and_exactly_put_the_list_in_place(
    writer: Writers, store: SimulatorStore, user_and_groups: tuple[str, list[str]]
) -> None:
    user_id, (a, b, c, d) = user_and_groups
    members = writer()
    user = await members.change_user(user_id, add=[a, b, c])
    assert set(user.group_ids) == {a, b, c} == groups_of(store, user_id)
    user = await members.change_user(user_id, add=[d], remove=[a])
    assert set(user.group_ids) == {b, c, d} == groups_of(store, user_id)
    user = await members.change_user(user_id, exactly=[a, d])
    assert set(user.group_ids) == {a, d} == groups_of(store, user_id)
    user = await members.change_user(user_id, exactly=[])
    assert user.group_ids == ()
    assert groups_of(store, user_id) == set()


async def test_a_known_read_is_used_and_an_unknown_user_raises_not_found(
    writer: Writers, store: SimulatorStore, user_and_groups: tuple[str, list[str]]
) -> None:
    user_id, groups = user_and_groups
    members = writer()
    known = await members.validate([user_id])
    user = await members.change_user(user_id, add=groups[:1], known=known[user_id])
    assert set(user.group_ids) == {groups[0]} == groups_of(store, user_id)
    with pytest.raises(NotFound):
        await members.change_user("no-such-user", add=groups[:1])


async def test_concurrent_changes_of_one_user_from_two_replicas_all_land(
    writer: Writers,
    settings: Settings,
    store: SimulatorStore,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    # process mode promises nothing across processes: its two writers share one process.
    second = 0 if settings.groups.coordination is Coordination.process else 1
    replicas = [writer(0), writer(second)]
    await asyncio.gather(
        *(replicas[i % 2].change_user(user_id, add=[g]) for i, g in enumerate(groups)),
        *(replicas[i % 2].change_user(user_id, add=[g]) for i, g in enumerate(groups)),
    )
    assert groups_of(store, user_id) == set(groups)
    await asyncio.gather(
        *(replicas[i % 2].change_user(user_id, remove=[g]) for i, g in enumerate(groups[:2]))
    )
    assert groups_of(store, user_id) == set(groups[2:])


class FailingWrites(httpx.AsyncBaseTransport):
    """The simulator, except that every user write answers 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(503, json={"error": "Service Unavailable"})
        return await self.inner.handle_async_request(request)


async def test_a_change_that_cannot_be_put_in_place_raises_a_scim_error(
    writer: Writers,
    simulator: ASGIApp,
    store: SimulatorStore,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    members = writer(transport=FailingWrites(simulator))
    with pytest.raises(ScimError) as raised:
        await members.change_user(user_id, add=groups[:1])
    assert raised.value.status in (502, 503)
    assert "send the request again" in raised.value.detail
    assert groups_of(store, user_id) == set()


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_a_cancelled_change_releases_its_redis_lock(
    writer: Writers,
    redis_server: RedisServer,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    members = writer()
    async with aioredis.Redis.from_url(redis_server.url, decode_responses=True) as redis:
        task = asyncio.create_task(members.change_user(user_id, add=groups[:1]))
        for _ in range(10_000):  # until the lock is taken (the read is then in flight)
            if await redis.keys(f"{LOCK_PREFIX}*"):
                break
        else:
            raise AssertionError("the lock was never taken")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await redis.keys(f"{LOCK_PREFIX}*") == []


class WriteThenTimeOut(httpx.AsyncBaseTransport):
    """The simulator applies every user write, but its reply never comes back in time."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PATCH":
            raise httpx.ReadTimeout("no reply in time", request=request)
        return response


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_a_write_of_unknown_outcome_is_an_error_and_keeps_the_lock_until_it_expires(
    writer: Writers,
    simulator: ASGIApp,
    redis_server: RedisServer,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    members = writer(transport=WriteThenTimeOut(simulator))
    with pytest.raises(ScimError) as raised:
        await members.change_user(user_id, add=groups[:1])
    assert raised.value.status in (503, 504)
    assert "send the request again" in raised.value.detail
    async with aioredis.Redis.from_url(redis_server.url, decode_responses=True) as redis:
        [lock] = await redis.keys(f"{LOCK_PREFIX}*")
        # Left to expire (a full lifetime), so a late landing precedes the next reader.
        assert 0 < await redis.pttl(lock) <= 30_000


async def test_a_request_reaches_the_writer_of_its_process(proxy: ASGIApp) -> None:
    scope = {
        "type": "http",
        "app": proxy,
        "method": "PATCH",
        "path": "/scim/v2/Users/x",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
    }
    members = membership_writer(Request(scope))
    assert members.coordinator is proxy.state.proxy.coordinator
    await proxy.state.proxy.coordinator.aclose()


class LockStolenOnRead(httpx.AsyncBaseTransport):
    """The simulator; while a user is read, every lock in Redis vanishes (expiry, a restart)."""

    def __init__(self, app: ASGIApp, redis_url: str) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.redis_url = redis_url

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.startswith("/users/"):
            async with aioredis.Redis.from_url(self.redis_url) as redis:
                for key in await redis.keys(f"{LOCK_PREFIX}*"):
                    await redis.delete(key)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_a_lock_lost_before_the_write_hands_the_change_to_verify(
    writer: Writers,
    simulator: ASGIApp,
    store: SimulatorStore,
    redis_server: RedisServer,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    members = writer(transport=LockStolenOnRead(simulator, redis_server.url))
    with capture_logs() as logs:
        user = await members.change_user(user_id, add=groups[:2])
    assert set(user.group_ids) == set(groups[:2]) == groups_of(store, user_id)
    [fallback] = [e for e in logs if e["event"] == "coordination_fallback"]
    assert fallback["kind"] == "lock_lost"


async def test_a_held_lock_is_renewed_while_held_and_released_after(
    redis_server: RedisServer,
) -> None:
    locks = RedisLocks(
        redis_server.url, "http://tv.test", lock_seconds=3, wait_seconds=1, timeout_seconds=1
    )
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        async with locks.hold("u1") as held:
            [key] = await redis.keys(f"{LOCK_PREFIX}*")
            lowest = await redis.pttl(key)
            renewed = False
            for _ in range(200):  # until the renewal (every second) puts the TTL back up
                await asyncio.sleep(0.05)
                ttl = await redis.pttl(key)
                if ttl > lowest:
                    renewed = True
                    break
                lowest = ttl
            assert renewed
            assert not held.lost
        assert await redis.keys(f"{LOCK_PREFIX}*") == []
    await locks.aclose()
