"""Per-user locks inside one process, and when this process last wrote each user.

Every membership read-modify-write, in every coordination mode, holds the user's lock in
this process, and re-reads the user under it when its read is older than this process's
last write of that user, so two requests in one process never undo each other (whether
they write under a Redis lock, in ``verify`` mode, or one of each while Redis recovers).

In ``process`` mode these locks are the whole coordination (the process is the only
writer). In ``redis`` mode the Redis lock keeps processes apart and these keep a request
apart from one of the same process that fell back to ``verify``. In ``verify`` mode other
processes are covered by the verify-and-reapply loop; these locks save it rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ...ops.config import MAX_REQUEST_BUDGET_SECONDS
from ...ops.context import request_stats


class UserLocks:
    """One asyncio lock per user id, dropped when nobody holds or waits for it."""

    _FORGET_AFTER = MAX_REQUEST_BUDGET_SECONDS + 60.0
    """Seconds after which a user's last write is forgotten: longer than any request runs
    (the largest allowed budget, plus a margin), so no read still in use is that old."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        # Oldest write first, so forgetting stale entries stops at the first recent one.
        self._written: OrderedDict[str, float] = OrderedDict()

    def last_write(self, user_id: str) -> float:
        """``time.monotonic()`` of this process's last write of the user (0 if none recent)."""
        return self._written.get(user_id, 0.0)

    def wrote(self, user_id: str) -> None:
        """Record a write of the user, forgetting writes too old to matter."""
        now = time.monotonic()
        self._written[user_id] = now
        self._written.move_to_end(user_id)
        cutoff = now - self._FORGET_AFTER
        while self._written:
            oldest, written_at = next(iter(self._written.items()))
            if written_at >= cutoff:
                break
            del self._written[oldest]

    @asynccontextmanager
    async def hold(self, user_id: str, *, wait: bool = True) -> AsyncIterator[bool]:
        """Hold the lock of ``user_id`` for the block; True when held.

        Without ``wait``, a lock another request holds or waits for is not waited for: the
        block runs at once with False, holding nothing.
        """
        if not wait and user_id in self._locks:
            yield False
            return
        lock, users = self._locks.get(user_id, (asyncio.Lock(), 0))
        self._locks[user_id] = (lock, users + 1)
        tracing = request_stats().tracing
        spans = None if tracing is None else tracing.lock_spans("process", user_id, waits=wait)
        try:
            async with lock:
                if spans is not None:
                    spans.taken()
                yield True
        finally:
            if spans is not None:
                spans.released()
            lock, users = self._locks[user_id]
            if users == 1:
                del self._locks[user_id]
            else:
                self._locks[user_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
