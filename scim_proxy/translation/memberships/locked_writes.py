"""``redis`` and ``process`` coordination: read and write each user under its lock.

The user's lock (in this process, and in Redis when coordinating through it) is held
around the read the write starts from and the write itself, so no other coordinated
writer can read the user between them: nothing to settle, nothing to verify. This
process's lock is held in every path (also with a Redis lock taken while validating), so
a request of this process that fell back to ``verify`` is kept apart too.

A group push's validating read is that read when it was taken under the lock: in
``redis`` mode :meth:`MembershipWriter.validate` takes each free lock before reading and
keeps it until the user is written (a busy one is not waited for: that user is read again
under the lock when written). In ``process`` mode the process is the only writer, so a
validating read is current as long as the process has not written the user since.

A write whose outcome is unknown (sent, then timed out, cut off or cancelled) may still
land later: the Redis lock is then left to expire instead of being released, so the next
writer reads after it lands as long as it lands within ``groups.lock_seconds``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ...directory import DirectoryUser, UserChanges
from ...ops.config import GroupSettings
from ...ops.context import request_stats
from ...telemetrytv.client import TelemetryTVSession
from ...telemetrytv.errors import (
    BadResponse,
    NotFound,
    ServerError,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from .change import UserChange
from .process_locks import UserLocks
from .redis_locks import CoordinationUnavailable, HeldLock, LockBusy, LockLost, RedisLocks
from .rounds import Snapshot, bounded, incomplete, read_user, stop_if_told_to_wait

Outcome = DirectoryUser | NotFound


def may_land_later(exc: BaseException) -> bool:
    """Whether a write that raised ``exc`` may still be applied upstream afterwards.

    Only an answer (a refusal, a 5xx, a malformed reply) or a request never sent rules it
    out; a timeout, a cut connection or a cancellation after sending does not.
    """
    if isinstance(exc, UpstreamRejected | ServerError | BadResponse):
        return False
    return not (isinstance(exc, UpstreamUnavailable) and not exc.request_sent)


Fallback = CoordinationUnavailable | LockLost
"""Why a user's change must be made in ``verify`` mode instead."""


class LockedWrites:
    """Applies user changes under per-user locks (Redis-wide when ``redis`` is given)."""

    def __init__(
        self,
        session: TelemetryTVSession,
        settings: GroupSettings,
        locks: UserLocks,
        redis: RedisLocks | None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.locks = locks
        self.redis = redis

    async def run(
        self, changes: Mapping[str, UserChange], known: Mapping[str, Snapshot]
    ) -> tuple[dict[str, Outcome], dict[str, Fallback]]:
        """Put every change in place; users to hand to ``verify`` are returned apart.

        A user TelemetryTV does not hold is NotFound. A write that failed is tried again
        from a fresh read under the lock, up to ``groups.verify_rounds`` rounds; what is
        still not in place is raised as :class:`MembershipIncomplete`.
        """
        results: dict[str, Outcome] = {}
        fallback: dict[str, Fallback] = {}
        pending = dict(changes)
        failure: BaseException | None = None
        seen = dict(known)
        for round_number in range(1, self.settings.verify_rounds + 1):

            async def change(user_id: str, reads: Mapping[str, Snapshot] = seen) -> DirectoryUser:
                return await self._change(user_id, changes[user_id], reads.get(user_id))

            outcomes = await bounded(pending, change, self.settings.member_concurrency)
            pending = {}
            final = False
            for user_id, outcome in outcomes.items():
                if isinstance(outcome, DirectoryUser | NotFound):
                    results[user_id] = outcome
                elif isinstance(outcome, CoordinationUnavailable | LockLost):
                    fallback[user_id] = outcome
                elif isinstance(outcome, LockBusy | UpstreamError):
                    failure = outcome
                    pending[user_id] = changes[user_id]
                    # Waiting again, repeating a refusal, or waiting for a lock left to
                    # expire after a write of unknown outcome would not help.
                    final |= isinstance(outcome, LockBusy | UpstreamRejected) or (
                        self.redis is not None and may_land_later(outcome)
                    )
                else:
                    raise outcome
            stop_if_told_to_wait(outcomes.values(), done=len(results))
            if not pending:
                return results, fallback
            if final or not self._time_for_another_round():
                break
            seen = {}
            await asyncio.sleep(0.05 * round_number)
        raise incomplete(
            done=len(results),
            total=len(changes),
            failure=failure,
            why="are waiting for another change to the same users (their lock stayed busy)",
        )

    def _time_for_another_round(self) -> bool:
        remaining = request_stats().remaining()
        return remaining is None or remaining > 1

    async def _change(
        self, user_id: str, change: UserChange, seen: Snapshot | None
    ) -> DirectoryUser:
        held = seen.held if seen is not None else None
        if held is not None and not held.released:
            # Read under this Redis lock, held since. This process's lock is taken too, so a
            # request of this process writing in ``verify`` mode (a fallback) is kept apart;
            # the read is reused unless such a request wrote the user since.
            async with self.locks.hold(user_id, wait=False) as free:
                if free:
                    try:
                        current = seen is not None and seen.read_at > self.locks.last_write(user_id)
                        return await self._read_modify_write(
                            user_id, change, seen if current else None, held
                        )
                    finally:
                        await held.release()
            # Another request of this process has the user: waiting for it while holding
            # the Redis lock could deadlock (it may wait for this Redis lock). Let go and
            # take both in the usual order.
            await held.release()
        async with self.locks.hold(user_id):
            if self.redis is None:
                current = seen is not None and seen.read_at > self.locks.last_write(user_id)
                return await self._read_modify_write(
                    user_id, change, seen if current else None, None
                )
            async with self.redis.hold(user_id) as held:
                return await self._read_modify_write(user_id, change, None, held)

    async def _read_modify_write(
        self, user_id: str, change: UserChange, seen: Snapshot | None, held: HeldLock | None
    ) -> DirectoryUser:
        snapshot = seen or await read_user(self.session, user_id)
        if change.holds(snapshot.user.group_ids):
            return snapshot.user
        groups = change.applied(snapshot.user.group_ids)
        if held is not None:
            await held.confirm()
        try:
            # One attempt: a retry after a wait would write a list read before the wait.
            stored = await self.session.update_user(
                user_id, UserChanges(group_ids=groups), retry_after_send=False
            )
        except BaseException as exc:
            # Cancelled (a shutdown's grace ran out), timed out or cut off after sending:
            # the write may still land, so the next writer must not read before it does.
            if held is not None and may_land_later(exc):
                held.keep()
            raise
        finally:
            self.locks.wrote(user_id)
        if held is not None and held.lost:
            raise LockLost("the lock could not be renewed during the write", written=True)
        if not change.holds(stored.group_ids):
            raise BadResponse("a group list other than the one written")
        return stored
