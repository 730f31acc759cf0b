"""``redis`` coordination while Redis is slow, failing or recovering (docs/memberships.md).

One slow reply is retried instead of taking the process to ``verify``; within one process,
writers under Redis locks and writers that fell back are kept apart by the process's own
per-user locks; for a while after a fallback the process's locked writes are verified; a
write cancelled after it was sent leaves its lock to expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import build_upstream
from scim_proxy.ops.config import Coordination, Settings
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from scim_proxy.translation.memberships import Coordinator, MembershipWriter, redis_locks
from scim_proxy.translation.memberships.redis_locks import LOCK_PREFIX
from tests.conftest import TOKEN, proxy_settings
from tests.redis_server import RedisServer
from tests.translation.memberships.seeding import groups_of, seeded_user_and_groups

pytestmark = pytest.mark.anyio

Writers = Callable[..., MembershipWriter]


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    return SimulatorSettings(token=TOKEN, users=2)


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    return proxy_settings().replace(
        "groups",
        coordination=Coordination.redis,
        redis_url=redis_server.url,
        redis_timeout_seconds=1.0,
    )


@pytest.fixture
async def coordinator(settings: Settings) -> AsyncIterator[Coordinator]:
    """One process's coordination (every writer below shares it)."""
    coordinator = Coordinator(settings)
    yield coordinator
    await coordinator.aclose()


@pytest.fixture
def writer(simulator: ASGIApp, settings: Settings, coordinator: Coordinator) -> Writers:
    """Makes writers of this one process (one per request), optionally through a transport."""

    def make(transport: httpx.AsyncBaseTransport | None = None) -> MembershipWriter:
        upstream = transport or httpx.ASGITransport(app=simulator)
        return MembershipWriter(
            build_upstream(settings, upstream).session(TOKEN), settings.groups, coordinator
        )

    return make


@pytest.fixture
def user_and_groups(store: SimulatorStore) -> tuple[str, list[str]]:
    return seeded_user_and_groups(store, 3)


async def test_one_slow_redis_reply_is_retried_instead_of_falling_back(
    writer: Writers,
    store: SimulatorStore,
    redis_server: RedisServer,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    async with aioredis.Redis.from_url(redis_server.url) as admin:
        # Redis holds every write command (taking a lock is one) for longer than
        # redis_timeout_seconds: the first try times out, the second is answered.
        await admin.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
        with capture_logs() as logs:
            user = await writer().change_user(user_id, add=groups[:1])
    assert set(user.group_ids) == set(groups[:1]) == groups_of(store, user_id)
    events = [e["event"] for e in logs]
    assert "redis_call_retried" in events
    assert "coordination_fallback" not in events
    assert "coordination_degraded" not in events


async def test_a_lock_taken_while_validating_is_kept_apart_from_a_fallback_in_the_process(
    writer: Writers,
    coordinator: Coordinator,
    store: SimulatorStore,
    user_and_groups: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_id, groups = user_and_groups
    redis = coordinator.redis
    assert redis is not None
    pushing = writer()
    # A group push validates its member under the member's Redis lock...
    known = await pushing.validate([user_id])
    assert known[user_id].held is not None
    # ...then Redis fails for a while: another request of this process falls back to
    # verify and puts the user in another group...
    monkeypatch.setattr(redis_locks, "BACKOFF_SECONDS", 60.0)
    redis.failed(TimeoutError())
    with capture_logs() as logs:
        await writer().change_user(user_id, add=groups[1:2])
    assert [e for e in logs if e["event"] == "coordination_fallback"]
    # ...and Redis is back (the readiness probe ends the back-off) when the push writes.
    assert await redis.ping()
    await pushing.apply(groups[0], add=[user_id], known=known)
    assert groups_of(store, user_id) == {groups[0], groups[1]}, "the push undid the fallback"


class WritesWhenOpened(httpx.AsyncBaseTransport):
    """The simulator; user writes wait until ``opened`` is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.writing = asyncio.Event()
        self.opened = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.writing.set()
            await self.opened.wait()
        return await self.inner.handle_async_request(request)


async def test_a_validated_push_waits_for_a_fallback_writing_the_same_user_in_the_process(
    writer: Writers,
    coordinator: Coordinator,
    simulator: ASGIApp,
    store: SimulatorStore,
    redis_server: RedisServer,
    user_and_groups: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_id, groups = user_and_groups
    redis = coordinator.redis
    assert redis is not None
    pushing = writer()
    known = await pushing.validate([user_id])
    monkeypatch.setattr(redis_locks, "BACKOFF_SECONDS", 60.0)
    redis.failed(TimeoutError())
    slow = WritesWhenOpened(simulator)
    fallback = asyncio.create_task(writer(slow).change_user(user_id, add=groups[1:2]))
    await slow.writing.wait()  # the fallback holds the user in this process, mid-write
    assert await redis.ping()
    push = asyncio.create_task(pushing.apply(groups[0], add=[user_id], known=known))
    async with aioredis.Redis.from_url(redis_server.url) as admin:
        for _ in range(10_000):  # the push lets go of its Redis lock rather than deadlock
            if not await admin.keys(f"{LOCK_PREFIX}*"):
                break
        else:
            raise AssertionError("the push kept its Redis lock while waiting")
    slow.opened.set()
    await asyncio.gather(fallback, push)
    assert groups_of(store, user_id) == {groups[0], groups[1]}


class UndoneAfterWrite(httpx.AsyncBaseTransport):
    """The simulator; just after the first user write, an older write lands (one sent
    earlier in ``verify`` mode whose reply timed out), undoing it."""

    def __init__(self, app: ASGIApp, store: SimulatorStore, old_groups: list[str]) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.store = store
        self.old_groups = old_groups
        self.landed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PATCH" and not self.landed:
            self.landed = True
            user_id = request.url.path.rstrip("/").rpartition("/")[2]
            self.store.update_user(user_id, {"user_group_ids": self.old_groups})
        return response


async def test_after_a_fallback_the_process_verifies_its_locked_writes_for_a_while(
    writer: Writers,
    coordinator: Coordinator,
    simulator: ASGIApp,
    store: SimulatorStore,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    redis = coordinator.redis
    assert redis is not None
    redis.failed(TimeoutError())  # a fallback in this process, just now
    await writer().change_user(user_id, add=groups[2:])
    assert await redis.ping()
    late = UndoneAfterWrite(simulator, store, [groups[2]])
    with capture_logs() as logs:
        user = await writer(late).change_user(user_id, add=groups[:1])
    assert late.landed
    assert set(user.group_ids) == {groups[0], groups[2]} == groups_of(store, user_id)
    assert [e for e in logs if e["event"] == "membership_reapplied"]
    assert not [e for e in logs if e["event"] == "coordination_fallback"]


async def test_without_a_recent_fallback_a_locked_write_is_not_read_back(
    writer: Writers,
    coordinator: Coordinator,
    store: SimulatorStore,
    user_and_groups: tuple[str, list[str]],
    upstream_calls: Callable[[], list[tuple[str, str]]],
) -> None:
    user_id, groups = user_and_groups
    assert not coordinator.in_grace()
    await writer().change_user(user_id, add=groups[:1])
    assert [method for method, _ in upstream_calls()] == ["GET", "PATCH"]


class HangAfterWrite(httpx.AsyncBaseTransport):
    """The simulator applies a user write, but its reply never comes (until cancelled)."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.sent = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PATCH":
            self.sent.set()
            await asyncio.Event().wait()
        return response


async def test_a_change_cancelled_after_its_write_was_sent_leaves_its_lock_to_expire(
    writer: Writers,
    simulator: ASGIApp,
    store: SimulatorStore,
    redis_server: RedisServer,
    user_and_groups: tuple[str, list[str]],
) -> None:
    user_id, groups = user_and_groups
    hanging = HangAfterWrite(simulator)
    task = asyncio.create_task(writer(hanging).change_user(user_id, add=groups[:1]))
    await hanging.sent.wait()
    task.cancel()  # e.g. uvicorn at the end of the shutdown grace
    with pytest.raises(asyncio.CancelledError):
        await task
    assert groups_of(store, user_id) == set(groups[:1])
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        [lock] = await redis.keys(f"{LOCK_PREFIX}*")
        assert 0 < await redis.pttl(lock) <= 30_000


async def test_a_change_that_fell_back_is_verified_once_not_again_in_the_grace_period(
    writer: Writers,
    coordinator: Coordinator,
    store: SimulatorStore,
    user_and_groups: tuple[str, list[str]],
    upstream_calls: Callable[[], list[tuple[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_id, groups = user_and_groups
    assert coordinator.redis is not None
    monkeypatch.setattr(redis_locks, "BACKOFF_SECONDS", 60.0)
    coordinator.redis.failed(TimeoutError())
    await writer().change_user(user_id, add=groups[:1])
    assert coordinator.in_grace()
    assert [method for method, _ in upstream_calls()] == ["GET", "PATCH", "GET"]
    assert groups_of(store, user_id) == set(groups[:1])
