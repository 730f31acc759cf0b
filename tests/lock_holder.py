"""A process that takes one user's membership lock in Redis, says so, and holds it.

``python -m tests.lock_holder REDIS_URL UPSTREAM_BASE_URL USER_ID LOCK_SECONDS``: the same
lock a proxy takes (scim_proxy.translation.memberships.redis_locks), kept alive by its renewal until
the process is killed.
"""

from __future__ import annotations

import asyncio
import sys

from scim_proxy.translation.memberships.redis_locks import RedisLocks


async def hold(redis_url: str, base_url: str, user_id: str, lock_seconds: float) -> None:
    locks = RedisLocks(
        redis_url, base_url, lock_seconds=lock_seconds, wait_seconds=5, timeout_seconds=2
    )
    async with locks.hold(user_id):
        print("held", flush=True)
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(hold(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
