"""The process's membership coordination: the mode in force, its locks, and Redis."""

from __future__ import annotations

from ..ops.config import Coordination, Settings, coordination_mode
from .redis_locks import RedisLocks
from .user_locks import UserLocks


class Coordinator:
    """What every membership writer of this process shares (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.mode = coordination_mode(settings)
        self.locks = UserLocks()
        groups = settings.groups
        self.redis: RedisLocks | None = None
        if self.mode is Coordination.redis:
            self.redis = RedisLocks(
                groups.redis_url,
                settings.upstream.base_url,
                lock_seconds=groups.lock_seconds,
                wait_seconds=groups.lock_wait_seconds,
                timeout_seconds=groups.redis_timeout_seconds,
            )

    async def status(self) -> str:
        """For ``/readyz``: the mode, and whether it is degraded (never a failure)."""
        if self.redis is None:
            return self.mode.value
        if await self.redis.ping():
            return f"redis ({self.redis.where})"
        return (
            f"degraded: {self.redis.reason}; membership changes fall back to verify "
            "(slower, still exact) until Redis answers"
        )

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if self.redis is not None:
            await self.redis.aclose()
