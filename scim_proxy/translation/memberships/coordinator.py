"""The process's membership coordination: the mode in force, its locks, and Redis."""

from __future__ import annotations

import time

from ...ops.config import Coordination, Settings, coordination_mode
from . import redis_locks
from .process_locks import UserLocks
from .redis_locks import RedisLocks


class Coordinator:
    """What every membership writer of this process shares (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.mode = coordination_mode(settings)
        self.locks = UserLocks()
        """This process's per-user locks, held around every read-modify-write."""
        groups = settings.groups
        self._settle_seconds = groups.settle_seconds
        self._fell_back_at = -float("inf")
        self.redis: RedisLocks | None = None
        if self.mode is Coordination.redis:
            self.redis = RedisLocks(
                groups.redis_url,
                settings.upstream.base_url,
                lock_seconds=groups.lock_seconds,
                wait_seconds=groups.lock_wait_seconds,
                timeout_seconds=groups.redis_timeout_seconds,
            )

    def fell_back(self) -> None:
        """Note that this process is writing memberships in ``verify`` mode now (in ``redis``
        mode: a fallback); call it when a fallback starts and again when it ends."""
        self._fell_back_at = time.monotonic()

    def grace_seconds(self) -> float:
        """How long after a fallback this process's locked writes are verified too.

        A fallback's last write may be followed by a re-apply after one settle wait (plus up
        to as much again of jitter), and requests keep falling back for the back-off.
        """
        return 2 * self._settle_seconds + redis_locks.BACKOFF_SECONDS

    def in_grace(self) -> bool:
        """Whether this process fell back recently enough that its locked writes, which do
        not read back, might have been undone by its own ``verify`` writes (one that timed
        out may land late): they are then settled, read back and re-applied as well."""
        return time.monotonic() - self._fell_back_at < self.grace_seconds()

    async def status(self) -> str:
        """For ``/readyz``: the mode, and whether it is degraded (never a failure)."""
        if self.redis is None:
            return self.mode.value
        if await self.redis.ping():
            return f"redis ({self.redis.where})"
        return (
            f"degraded: {self.redis.reason}; membership changes fall back to verify "
            "(slower; see docs/memberships.md, Limits) until Redis answers"
        )

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if self.redis is not None:
            await self.redis.aclose()
