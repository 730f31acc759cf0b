"""Per-user locks in Redis, shared by every proxy process (``groups.coordination = redis``).

A membership write holds the user's lock (redis-py's :class:`~redis.asyncio.lock.Lock`: a
``SET NX PX`` with a random token, released and renewed by Lua scripts that check the
token) around the read the write starts from and the write itself. The lock has a bounded
lifetime (``groups.lock_seconds``) and is renewed while its holder is alive, so a holder
killed mid-write blocks that user for at most one lifetime.

Keys are hashes of the upstream base URL and the user id, never of the API token: two IdP
apps with different tokens may manage one TelemetryTV account.

A Redis call that times out or loses its connection is tried once more (when the request's
budget leaves room): one slow reply does not take the process out of ``redis`` mode, which
would mix modes across replicas (docs/memberships.md, "Limits"). Taking a lock is
idempotent (a retry whose first ``SET`` landed finds its own token), so retrying is safe.
When the second try fails too, :class:`CoordinationUnavailable` is raised and Redis is left
alone for ``BACKOFF_SECONDS`` (short, so the mixed period at recovery is short); the
membership writer falls back to settle-and-verify for the request, and the first request
after the back-off, or ``/readyz``'s probe, tries Redis again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...ops.config import MAX_REQUEST_BUDGET_SECONDS
from ...ops.context import request_stats

if TYPE_CHECKING:
    from ...ops.spans import LockSpans

log = structlog.get_logger("scim_proxy.coordination")
T = TypeVar("T")

REDIS_ERRORS = (RedisError, OSError, TimeoutError)
"""What a Redis call can raise when Redis is down, slow or refusing us."""

LOCK_PREFIX = "scim-proxy:membership-lock:"
BACKOFF_SECONDS = 1.0
"""After a Redis failure (a call failed twice), how long requests go straight to verify
before Redis is tried again. Short: while this process is in ``verify`` and others write
under Redis locks, modes are mixed."""
MAX_HOLD_SECONDS = float(MAX_REQUEST_BUDGET_SECONDS)
"""Renewal stops after this long (the longest request budget): a lock its holder forgot
to release still expires."""
_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
"""Take a lock, or find it already ours (an earlier try whose reply was lost)."""
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


class _IdempotentLock(Lock):
    """redis-py's lock, taken with :data:`_ACQUIRE`: sending the same token again after a
    lost reply holds the lock instead of waiting for ourselves until it expires."""

    async def do_acquire(self, token: str | bytes) -> bool:
        milliseconds = int((self.timeout or MAX_HOLD_SECONDS) * 1000)
        taken = await self.redis.eval(_ACQUIRE, 1, self.name, token, milliseconds)
        return bool(taken)


class HeldLock:
    """One user's lock while held: renewed in the background until released."""

    def __init__(
        self,
        lock: Lock,
        renew_every: float,
        retrying: Callable[[Callable[[], Awaitable[object]]], Awaitable[object]],
        spans: LockSpans | None = None,
    ) -> None:
        self._lock = lock
        self._retrying = retrying
        self._spans = spans
        self.lost = False
        """Set when renewing the lock failed: another writer may have taken it since."""
        self.kept = False
        self.released = False
        self._renewer = asyncio.create_task(self._renew(renew_every))

    async def _renew(self, every: float) -> None:
        """Keep the lock alive while its holder runs; a dead holder stops renewing it."""
        deadline = time.monotonic() + MAX_HOLD_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(every)
            try:
                await self._retrying(self._lock.reacquire)
            except (LockError, *REDIS_ERRORS):
                self.lost = True
                return

    async def confirm(self) -> None:
        """Just before a write: make sure the lock is still ours, renewed to a full lifetime."""
        if self.lost:
            raise LockLost("the lock was lost before the write", written=False)
        try:
            await self._retrying(self._lock.reacquire)
        except LockError as exc:
            self.lost = True
            raise LockLost("the lock expired before the write", written=False) from exc
        except REDIS_ERRORS as exc:
            self.lost = True
            raise CoordinationUnavailable(_describe(exc)) from exc

    def keep(self) -> None:
        """Leave the lock to expire instead of releasing it (a write may still land)."""
        self.kept = True

    async def release(self) -> None:
        """Release the lock (once; shielded from cancellation). A kept lock is renewed to a
        full lifetime and left to expire: a write of unknown outcome may still land, and
        the next writer should read after it."""
        if self.released:
            return
        self.released = True
        if self._spans is not None:
            self._spans.released(kept=self.kept, lost=self.lost)
        self._renewer.cancel()
        await asyncio.shield(_refresh(self._lock) if self.kept else _release(self._lock))


def _transient(exc: BaseException) -> bool:
    """A timeout or a lost connection: worth one more try (a refusal or an error is not)."""
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError)


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
            # One retry, on a broken connection: after Redis restarts, each pooled
            # connection fails once and is replaced. Timeouts are retried once by
            # :meth:`retrying`, which knows the request's budget.
            self._client = aioredis.Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                decode_responses=True,
            )
        return self._client

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``; after a timeout or a lost connection, once more if the request's
        budget leaves room for another full wait (a failure of the second try is raised)."""
        try:
            return await call()
        except REDIS_ERRORS as exc:
            remaining = request_stats().remaining()
            if not _transient(exc) or (remaining is not None and remaining < 2 * self._timeout):
                raise
            log.info("redis_call_retried", reason=f"{_describe(exc)} at {self.where}")
        return await call()

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

    async def acquire(self, user_id: str, *, wait: bool) -> HeldLock | None:
        """The user's lock, held until :meth:`HeldLock.release`.

        With ``wait``, waits up to ``wait_seconds`` for another holder, then raises
        :class:`LockBusy`; without, answers None at once when it is held. Raises
        :class:`CoordinationUnavailable` when Redis fails.
        """
        if not self.available():
            raise self._unavailable()
        lock = _IdempotentLock(
            self._redis(),
            LOCK_PREFIX + user_key(self._base_url, user_id),
            timeout=self.lock_seconds,
            sleep=_POLL_SECONDS,
            blocking_timeout=self.wait_seconds,
            thread_local=False,
        )
        # One token for both tries: a second try finds a lock the first took.
        token = uuid.uuid4().hex
        tracing = request_stats().tracing
        spans = None if tracing is None else tracing.lock_spans("redis", user_id, waits=wait)
        try:
            acquired = await self.retrying(lambda: lock.acquire(blocking=wait, token=token))
        except REDIS_ERRORS as exc:
            if spans is not None:
                spans.not_taken("redis_unavailable")
            raise self.failed(exc) from exc
        except BaseException as exc:
            if spans is not None:
                spans.not_taken("cancelled" if isinstance(exc, asyncio.CancelledError) else "error")
            raise
        self._succeeded()
        if spans is not None:
            if acquired:
                spans.taken()
            else:
                spans.not_taken("busy")
        if not acquired:
            if wait:
                raise LockBusy(
                    f"another change to this user held its lock for {self.wait_seconds:g} s"
                )
            return None
        return HeldLock(lock, self.lock_seconds / 3, self.retrying, spans)

    @asynccontextmanager
    async def hold(self, user_id: str) -> AsyncIterator[HeldLock]:
        """Hold the user's lock for the block (waiting for it): released in every path."""
        held = await self.acquire(user_id, wait=True)
        assert held is not None  # acquire(wait=True) raises instead
        try:
            yield held
        finally:
            await held.release()

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
