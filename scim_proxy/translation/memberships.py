"""Membership changes that are never lost, even with concurrent writers.

TelemetryTV keeps a membership as an entry in the user's ``user_group_ids``, and offers no
conditional update: adding a user to a group is read the user, add the id, write the
whole list back. Two writers doing that to one user at once can each write a list
missing the other's change. The proxy makes every change stick, across processes, by
verifying after writing:

1. **Validate**: read every user to add (bounded concurrency). An unknown id is a 400
   before anything is written.
2. **Write**: for each user whose list does not yet say what the request wants, write the
   list, under a per-user lock in this process. A read older than
   ``groups.max_read_age_seconds`` is refreshed first, which bounds the time between
   any writer's read and its write.
3. **Settle, then verify**: wait ``groups.settle_seconds`` (plus up to as much again at
   random, so writers that collided do not collide again in step), longer than that bound, then
   read the written users back. A concurrent writer that read before our write has
   written by now; if it undid our change, the read shows it, and the change is written
   again (step 2) for another round, up to ``groups.verify_rounds``.

Every change is an idempotent "user U is (not) in group G", so sending a request again
converges. A change still not in place after the last round is reported as an error,
never as success. See docs/memberships.md for the argument and its limits.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import structlog

from ..directory import DirectoryUser, UserChanges
from ..ops.config import GroupSettings
from ..ops.context import request_stats
from ..scim.errors import ScimError, invalid_value
from ..telemetrytv.client import TelemetryTVSession
from ..telemetrytv.errors import CircuitOpen, NotFound, RateLimited, UpstreamError
from .errors import scim_error_for
from .user_locks import UserLocks

log = structlog.get_logger("scim_proxy.memberships")
_jitter = random.Random()  # noqa: S311 - timing jitter, not a secret
T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A user as read, and when the read was sent (monotonic seconds)."""

    user: DirectoryUser
    read_at: float


class MembershipIncomplete(ScimError):
    """Some membership changes could not be applied; the request may be sent again."""


async def bounded(
    items: Iterable[K], work: Callable[[K], Awaitable[T]], limit: int
) -> dict[K, T | BaseException]:
    """Run ``work`` on every item, at most ``limit`` at once; exceptions are collected."""
    gate = asyncio.Semaphore(limit)

    async def one(item: K) -> T:
        async with gate:
            return await work(item)

    keys = list(items)
    results = await asyncio.gather(*(one(k) for k in keys), return_exceptions=True)
    return dict(zip(keys, results, strict=True))


class MembershipWriter:
    """Applies "these users in, those users out" to one group, verified."""

    def __init__(
        self, session: TelemetryTVSession, settings: GroupSettings, locks: UserLocks
    ) -> None:
        self.session = session
        self.settings = settings
        self.locks = locks

    async def _read(self, user_id: str) -> Snapshot:
        read_at = time.monotonic()
        return Snapshot(await self.session.get_user(user_id), read_at)

    async def validate(self, user_ids: Iterable[str]) -> dict[str, Snapshot]:
        """Read the users a request adds; 400 naming any that TelemetryTV does not hold.

        A read that failed for another reason proves nothing either way: that user is
        read again when its membership is written.
        """
        results = await bounded(user_ids, self._read, self.settings.member_concurrency)
        _stop_if_told_to_wait(results.values(), done=0)
        missing = sorted(k for k, r in results.items() if isinstance(r, NotFound))
        if missing:
            shown = ", ".join(repr(m[:64]) for m in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise invalid_value(
                f"Member(s) {shown}{more} are not TelemetryTV users. Provision the users "
                "(assign them to the app) before pushing them in a group."
            )
        for result in results.values():
            if isinstance(result, BaseException) and not isinstance(result, UpstreamError):
                raise result
        return {k: r for k, r in results.items() if isinstance(r, Snapshot)}

    async def apply(
        self,
        group_id: str,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        known: Mapping[str, Snapshot] | None = None,
    ) -> None:
        """Make ``add`` members and ``remove`` non-members of ``group_id``, verified.

        ``known`` holds fresh reads of some of the users (from :meth:`validate`). A write
        that fails is tried again in the next round from a fresh read, like one a
        concurrent writer undid; what is still not in place after the last round is
        reported as an error.
        """
        wanted = {user_id: True for user_id in add}
        wanted.update({user_id: False for user_id in remove})
        if not wanted:
            return
        pending: dict[str, Snapshot | None] = {u: (known or {}).get(u) for u in wanted}
        failure: BaseException | None = None
        for round_number in range(1, self.settings.verify_rounds + 1):
            written = await self._write_round(group_id, wanted, pending)
            failed = {u: r for u, r in written.items() if isinstance(r, BaseException)}
            changed = [u for u, r in written.items() if r is True]
            for user_id in [u for u, r in failed.items() if isinstance(r, NotFound)]:
                if wanted[user_id]:
                    raise invalid_value(
                        f"Member {user_id[:64]!r} was deleted from TelemetryTV while the group "
                        "was being updated; provision the user again, then resend the request."
                    )
                del failed[user_id]  # removing someone who no longer exists: done
            if failed:
                failure = next(iter(failed.values()))
                _stop_if_told_to_wait(failed.values(), done=len(wanted) - len(pending))
            if not changed and not failed:
                return
            if not self._time_for_another_round():
                break
            # Jitter keeps writers that collided from colliding again in step.
            await asyncio.sleep(self.settings.settle_seconds * (1 + _jitter.random()))
            checked = await bounded(
                [*changed, *failed], self._read, self.settings.member_concurrency
            )
            _stop_if_told_to_wait(
                [r for r in checked.values() if isinstance(r, BaseException)],
                done=len(wanted) - len(checked),
            )
            pending = {}
            for user_id, result in checked.items():
                if isinstance(result, Snapshot):
                    if not _holds(result, group_id, wanted[user_id]):
                        pending[user_id] = result
                elif not (isinstance(result, NotFound) and not wanted[user_id]):
                    failure = result
                    pending[user_id] = None
            if not pending:
                return
            log.info(
                "membership_reapplied", group_id=group_id, users=len(pending), round=round_number
            )
        done = len(wanted) - len(pending)
        if isinstance(failure, UpstreamError):
            error = scim_error_for(failure, resource="User")
            raise MembershipIncomplete(
                error.status,
                f"Membership update incomplete: {done} of {len(wanted)} changes are in place, "
                f"{len(pending)} are not ({error.detail}). Send the request again: it converges.",
                error.scim_type,
                headers=error.headers,
            ) from failure
        raise MembershipIncomplete(
            503,
            f"Membership update incomplete: {done} of {len(wanted)} changes are in place; "
            f"{len(pending)} kept being undone by concurrent changes. Send the request again: "
            "it converges.",
            headers={"Retry-After": "5"},
        )

    def _time_for_another_round(self) -> bool:
        """Whether a settle wait and a verification still fit the request's budget."""
        remaining = request_stats().remaining()
        return remaining is None or remaining > 2 * self.settings.settle_seconds + 1

    async def _write_round(
        self, group_id: str, wanted: Mapping[str, bool], pending: Mapping[str, Snapshot | None]
    ) -> dict[str, bool | BaseException]:
        async def write(user_id: str) -> bool:
            return await self._write(user_id, group_id, wanted[user_id], pending[user_id])

        return await bounded(pending, write, self.settings.member_concurrency)

    async def _write(
        self, user_id: str, group_id: str, member: bool, seen: Snapshot | None
    ) -> bool:
        """Write one user's group list if it needs it; whether a write was made."""
        async with self.locks.hold(user_id):
            snapshot = seen
            if (
                snapshot is None
                or time.monotonic() - snapshot.read_at > self.settings.max_read_age_seconds
                or snapshot.read_at <= self.locks.last_write(user_id)
            ):
                try:
                    snapshot = await self._read(user_id)
                except NotFound:
                    if not member:
                        return False
                    raise
            if _holds(snapshot, group_id, member):
                return False
            current = snapshot.user.group_ids
            groups = (*current, group_id) if member else tuple(g for g in current if g != group_id)
            # No retry once sent: a late retry could land after the read went stale.
            try:
                await self.session.update_user(
                    user_id, UserChanges(group_ids=groups), retry_after_send=False
                )
            finally:
                self.locks.wrote(user_id)
            gap = time.monotonic() - snapshot.read_at
            if gap > self.settings.settle_seconds:
                # Our write may have landed after a concurrent writer verified: say so.
                log.warning("membership_write_slow", group_id=group_id, seconds=round(gap, 3))
            return True


def _stop_if_told_to_wait(failures: Iterable[object], *, done: int) -> None:
    """A throttled or paused TelemetryTV ends the request now, passing its wait on.

    Another round a second later would only hammer it; the IdP retries after
    ``Retry-After`` and the request converges then.
    """
    for failure in failures:
        if isinstance(failure, RateLimited | CircuitOpen):
            error = scim_error_for(failure, resource="User")
            raise MembershipIncomplete(
                error.status,
                f"Membership update incomplete ({done} changes in place): {error.detail}. "
                "Send the request again after the wait: it converges.",
                error.scim_type,
                headers=error.headers,
            ) from failure


def _holds(snapshot: Snapshot, group_id: str, member: bool) -> bool:
    return (group_id in snapshot.user.group_ids) is member
