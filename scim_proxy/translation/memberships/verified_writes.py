"""``verify`` coordination: write, settle, read back, re-apply (no shared locks).

For several processes without Redis, and the fallback of ``redis`` when Redis cannot be
used (then not airtight against replicas still writing under Redis locks, which do not
read back: docs/memberships.md, "Limits"). For each user whose list does not yet hold
the change, the list is written under a per-user lock in this process; a read older than
``groups.max_read_age_seconds`` (or than this process's last write of the user) is
refreshed first, which bounds the time between
any writer's read and its write. Then wait ``groups.settle_seconds`` (plus up to as much
again at random, so writers that collided do not collide again in step), longer than that
bound, and read the written users back: a concurrent writer that read before our write has
written by now, and if it undid our change the read shows it and the change is written
again, up to ``groups.verify_rounds`` rounds. See docs/memberships.md for the argument.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Collection, Mapping

import structlog

from ...directory import DirectoryUser, UserChanges
from ...ops.config import GroupSettings
from ...ops.context import request_stats
from ...telemetrytv.client import TelemetryTVSession
from ...telemetrytv.errors import NotFound, UpstreamError
from .change import UserChange
from .process_locks import UserLocks
from .rounds import Snapshot, bounded, incomplete, read_user, stop_if_told_to_wait

log = structlog.get_logger("scim_proxy.memberships")
_jitter = random.Random()  # noqa: S311 - timing jitter, not a secret

Outcome = DirectoryUser | NotFound


class VerifiedWrites:
    """Applies user changes by writing and verifying after a settle wait."""

    def __init__(
        self, session: TelemetryTVSession, settings: GroupSettings, locks: UserLocks
    ) -> None:
        self.session = session
        self.settings = settings
        self.locks = locks

    async def run(
        self,
        changes: Mapping[str, UserChange],
        known: Mapping[str, Snapshot],
        about: Mapping[str, str],
        unverified: Collection[str] = (),
    ) -> dict[str, Outcome]:
        """Put every change in place, verified; a user TelemetryTV does not hold is NotFound.

        A write that fails is tried again in the next round from a fresh read, like one a
        concurrent writer undid; what is still not in place after the last round is
        raised as :class:`MembershipIncomplete`. ``about`` goes into log events (the group).
        Users in ``unverified`` were written already (elsewhere) and are verified first.
        """
        results: dict[str, Outcome] = {}
        pending: dict[str, Snapshot | None] = {u: known.get(u) for u in changes}
        failure: BaseException | None = None
        limit = self.settings.member_concurrency
        for round_number in range(1, self.settings.verify_rounds + 1):

            async def write(
                user_id: str, reads: Mapping[str, Snapshot | None] = pending
            ) -> tuple[bool, DirectoryUser]:
                return await self._write(user_id, changes[user_id], reads[user_id], about)

            to_write = [u for u in pending if round_number > 1 or u not in unverified]
            written = await bounded(to_write, write, limit)
            changed: list[str] = [u for u in pending if u not in written]
            failed: dict[str, BaseException] = {}
            for user_id, outcome in written.items():
                if isinstance(outcome, NotFound):
                    results[user_id] = outcome
                elif isinstance(outcome, UpstreamError):
                    failed[user_id] = outcome
                elif isinstance(outcome, BaseException):
                    raise outcome
                elif outcome[0]:
                    changed.append(user_id)
                else:
                    results[user_id] = outcome[1]
            if failed:
                failure = next(iter(failed.values()))
                stop_if_told_to_wait(failed.values(), done=len(results))
            pending = {u: None for u in [*changed, *failed]}
            if not pending:
                return results
            if not self.time_for_another_round():
                break
            await self.settle()
            checked = await bounded(pending, self._read, limit)
            stop_if_told_to_wait(
                [r for r in checked.values() if isinstance(r, BaseException)], done=len(results)
            )
            pending = {}
            for user_id, result in checked.items():
                if isinstance(result, Snapshot):
                    if changes[user_id].holds(result.user.group_ids):
                        results[user_id] = result.user
                    else:
                        pending[user_id] = result
                elif isinstance(result, NotFound):
                    results[user_id] = result
                else:
                    failure = result
                    pending[user_id] = None
            if not pending:
                return results
            log.info("membership_reapplied", **about, users=len(pending), round=round_number)
        raise incomplete(
            done=len(changes) - len(pending),
            total=len(changes),
            failure=failure,
            why="kept being undone by concurrent changes",
        )

    async def _read(self, user_id: str) -> Snapshot:
        return await read_user(self.session, user_id)

    async def settle(self) -> None:
        """Wait for writes that may have read before ours to land (``settle_seconds``)."""
        # Jitter keeps writers that collided from colliding again in step.
        seconds = self.settings.settle_seconds * (1 + _jitter.random())
        tracing = request_stats().tracing
        if tracing is None:
            await asyncio.sleep(seconds)
            return
        span = tracing.start(
            "membership.verify.settle", {"scim_proxy.settle_seconds": round(seconds, 3)}
        )
        try:
            await asyncio.sleep(seconds)
        finally:
            span.end()

    def time_for_another_round(self) -> bool:
        """Whether a settle wait and a verification still fit the request's budget."""
        remaining = request_stats().remaining()
        return remaining is None or remaining > 2 * self.settings.settle_seconds + 1

    async def _write(
        self, user_id: str, change: UserChange, seen: Snapshot | None, about: Mapping[str, str]
    ) -> tuple[bool, DirectoryUser]:
        """Write one user's group list if it needs it: whether a write was made, and the user."""
        async with self.locks.hold(user_id):
            snapshot = seen
            if (
                snapshot is None
                or time.monotonic() - snapshot.read_at > self.settings.max_read_age_seconds
                or snapshot.read_at <= self.locks.last_write(user_id)
            ):
                snapshot = await self._read(user_id)
            if change.holds(snapshot.user.group_ids):
                return False, snapshot.user
            groups = change.applied(snapshot.user.group_ids)
            # No retry once sent: a late retry could land after the read went stale.
            try:
                stored = await self.session.update_user(
                    user_id, UserChanges(group_ids=groups), retry_after_send=False
                )
            finally:
                self.locks.wrote(user_id)
            gap = time.monotonic() - snapshot.read_at
            if gap > self.settings.settle_seconds:
                # Our write may have landed after a concurrent writer verified: say so.
                log.warning("membership_write_slow", **about, seconds=round(gap, 3))
            return True, stored
