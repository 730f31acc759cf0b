"""Per-user locks in Redis, shared by every proxy process (``groups.coordination = redis``).

A membership write holds the user's lock (redis-py's :class:`~redis.asyncio.lock.Lock`: a
``SET NX PX`` with a random token, released and renewed by Lua scripts that check the
token) around the read the write starts from and the write itself. The lock has a bounded
lifetime (``groups.lock_seconds``) and is renewed while its holder is alive, so a holder
killed mid-write blocks that user for at most one lifetime.

Next to each lock, a version counter says how many coordinated writes the user has had; a
read taken before the lock (the validating read of a group push) is reused as the write's
starting point only if the counter has not moved since, which saves a second read.

Keys are hashes of the upstream base URL and the user id, never of the API token: two IdP
apps with different tokens may manage one TelemetryTV account.

When Redis cannot be reached or answers too slowly, :class:`CoordinationUnavailable` is
raised and Redis is left alone for ``BACKOFF_SECONDS``; the membership writer falls back to
settle-and-verify for the request, and the first request after the back-off tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError

log = structlog.get_logger("scim_proxy.coordination")

REDIS_ERRORS = (RedisError, OSError, TimeoutError)
"""What a Redis call can raise when Redis is down, slow or refusing us."""

LOCK_PREFIX = "scim-proxy:membership-lock:"
VERSION_PREFIX = "scim-proxy:membership-version:"
BACKOFF_SECONDS = 5.0
"""After a Redis failure, how long requests go straight to verify before Redis is tried."""
VERSION_TTL_SECONDS = 3600
"""A version counter outlives any read it is compared with by far."""
_POLL_SECONDS = 0.02
"""How often a waiting writer tries a busy lock again."""


class CoordinationUnavailable(Exception):
    """Redis could not be used; ``reason`` says why (no credentials in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LockBusy(Exception):
    """Another writer held the user's lock for all of ``groups.lock_wait_seconds``."""


class LockLost(Exception):
    """The lock expired or was taken over while held: the write is not known to be safe.

    ``written`` says whether a write was sent under it (it then needs verifying).
    """

    def __init__(self, message: str, *, written: bool) -> None:
        super().__init__(message)
        self.written = written


def user_key(base_url: str, user_id: str) -> str:
    """The hash naming one TelemetryTV user of one account in Redis."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{user_id}".encode()).hexdigest()


class HeldLock:
    """One user's lock while held: the version seen under it, and whether it is still ours."""

    def __init__(self, lock: Lock, client: aioredis.Redis, key: str, version: str) -> None:
        self._lock = lock
        self._client = client
        self._key = key
        self.version = version
        """The user's coordinated-write counter when the lock was taken ("0": none yet)."""
        self.lost = False
        """Set when renewing the lock failed: another writer may have read since."""
        self.kept = False

    async def confirm(self) -> None:
        """Just before a write: make sure the lock is still ours, renewed to a full lifetime."""
        if self.lost:
            raise LockLost("the lock was lost before the write", written=False)
        try:
            await self._lock.reacquire()
        except LockError as exc:
            self.lost = True
            raise LockLost("the lock expired before the write", written=False) from exc
        except REDIS_ERRORS as exc:
            self.lost = True
            raise CoordinationUnavailable(_describe(exc)) from exc

    async def wrote(self) -> None:
        """After a write (or an attempt that may have landed): move the user's version on."""
        name = VERSION_PREFIX + self._key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, VERSION_TTL_SECONDS)
                await pipe.execute()
        except REDIS_ERRORS:
            # Readers then cannot tell this write happened: have the caller verify it.
            self.lost = True

    def keep(self) -> None:
        """Leave the lock to expire instead of releasing it (a write may still land)."""
        self.kept = True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return f"Redis did not answer in time ({type(exc).__name__})"
    return f"Redis failed ({type(exc).__name__})"


class RedisLocks:
    """The process's Redis client, its per-user locks, and whether Redis is usable now."""

    def __init__(
        self,
        url: str,
        upstream_base_url: str,
        *,
        lock_seconds: float,
        wait_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self._url = url
        self._base_url = upstream_base_url
        self.lock_seconds = lock_seconds
        self.wait_seconds = wait_seconds
        self._timeout = timeout_seconds
        self._client: aioredis.Redis | None = None
        self._down_until = 0.0
        self.reason: str | None = None
        """Why Redis is not being used, while it is not; ``None`` when it is healthy."""
        parts = urlsplit(url)
        self.where = (
            parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
        )
        """Redis's address for messages (never the credentials)."""

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            # One retry, on a broken connection only: after Redis restarts, each pooled
            # connection fails once and is replaced. A timeout is not retried: a slow Redis
            # falls back to verify at once instead of multiplying the wait.
            self._client = aioredis.Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                decode_responses=True,
            )
        return self._client

    def available(self) -> bool:
        """False while backing off after a failure (requests then go straight to verify)."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> CoordinationUnavailable:
        """Record a Redis failure; the error to raise."""
        reason = f"{_describe(exc)} at {self.where}"
        if self.reason is None:
            log.warning("coordination_degraded", reason=reason, retry_in=BACKOFF_SECONDS)
        self.reason = reason
        self._down_until = time.monotonic() + BACKOFF_SECONDS
        return CoordinationUnavailable(reason)

    def _succeeded(self) -> None:
        if self.reason is not None:
            log.info("coordination_restored", redis=self.where)
            self.reason = None

    def _unavailable(self) -> CoordinationUnavailable:
        return CoordinationUnavailable(self.reason or f"Redis at {self.where} is backing off")

    async def versions(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The coordinated-write counters of these users, in one round trip."""
        ids = list(user_ids)
        if not ids:
            return {}
        if not self.available():
            raise self._unavailable()
        try:
            values = await self._redis().mget(
                [VERSION_PREFIX + user_key(self._base_url, u) for u in ids]
            )
        except REDIS_ERRORS as exc:
            raise self.failed(exc) from exc
        self._succeeded()
        return {u: str(v or "0") for u, v in zip(ids, values, strict=True)}

    @asynccontextmanager
    async def hold(self, user_id: str) -> AsyncIterator[HeldLock]:
        """Hold the user's lock for the block: renewed while held, released in every path.

        Raises :class:`LockBusy` after ``wait_seconds`` of another writer holding it, and
        :class:`CoordinationUnavailable` when Redis fails.
        """
        if not self.available():
            raise self._unavailable()
        client = self._redis()
        key = user_key(self._base_url, user_id)
        lock = Lock(
            client,
            LOCK_PREFIX + key,
            timeout=self.lock_seconds,
            sleep=_POLL_SECONDS,
            blocking_timeout=self.wait_seconds,
            thread_local=False,
        )
        acquired = False
        try:
            acquired = await lock.acquire()
            if not acquired:
                raise LockBusy(
                    f"another change to this user held its lock for {self.wait_seconds:g} s"
                )
            version = str(await client.get(VERSION_PREFIX + key) or "0")
        except REDIS_ERRORS as exc:
            if acquired:
                await asyncio.shield(_release(lock))
            raise self.failed(exc) from exc
        except BaseException:
            if acquired:
                await asyncio.shield(_release(lock))
            raise
        self._succeeded()
        held = HeldLock(lock, client, key, version)
        renewer = asyncio.create_task(self._renew(lock, held))
        try:
            yield held
        finally:
            renewer.cancel()
            if held.kept:
                # A write whose outcome is unknown may still land: hold the user a full
                # lifetime more rather than let the next writer read before it lands.
                await asyncio.shield(_refresh(lock))
            else:
                await asyncio.shield(_release(lock))

    async def _renew(self, lock: Lock, held: HeldLock) -> None:
        """Keep the lock alive while its holder runs; a dead holder stops renewing it."""
        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                await lock.reacquire()
            except (LockError, *REDIS_ERRORS):
                held.lost = True
                return

    async def ping(self) -> bool:
        """Whether Redis answers now (for ``/readyz``); a success ends any back-off."""
        try:
            await self._redis().ping()
        except REDIS_ERRORS as exc:
            self.failed(exc)
            return False
        self._down_until = 0.0
        self._succeeded()
        return True

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._client.aclose()
            self._client = None


async def _release(lock: Lock) -> None:
    # An expired lock, or an unreachable Redis, expires by itself.
    with contextlib.suppress(LockError, LockNotOwnedError, *REDIS_ERRORS):
        await lock.release()


async def _refresh(lock: Lock) -> None:
    with contextlib.suppress(LockError, *REDIS_ERRORS):
        await lock.reacquire()
