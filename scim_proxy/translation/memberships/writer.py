"""Membership changes that are never lost, even with concurrent writers.

TelemetryTV keeps a membership as an entry in the user's ``user_group_ids``, and offers no
conditional update: adding a user to a group is read the user, add the id, write the
whole list back. Two writers doing that to one user at once can each write a list
missing the other's change.

The primitive is :meth:`MembershipWriter.change_user` (and :meth:`~MembershipWriter.
change_users` for many users at once): a coordinated read-modify-write of one user's group
list. How writers are kept apart is ``groups.coordination`` (docs/memberships.md):

- ``redis`` / ``process`` (:mod:`locked_writes`): the user's lock, in Redis or in this
  process, is held around the read the write starts from and the write. No waiting.
- ``verify`` (:mod:`verified_writes`): write, settle, read back, re-apply.

When Redis cannot be used (a call failed twice), the affected changes of that request are
made in ``verify`` mode (logged as ``coordination_fallback``, counted in
``scim_proxy_coordination_fallbacks_total``): slower. Within this process that is safe:
every write holds this process's per-user lock, and for a grace period after a fallback
(:meth:`Coordinator.in_grace`) locked writes are settled, read back and re-applied too.
Across replicas it is not airtight: a replica in ``verify`` can undo, unseen, a locked
write of a replica still reaching Redis; no client-side scheme closes that without
conditional writes upstream (docs/memberships.md, "Limits"; re-running the push converges).

A group push (:meth:`MembershipWriter.apply`) is one change per member, validated first:
an unknown member is a 400 before anything is written. Every change is idempotent, so
sending a request again converges; a change not in place is reported as an error, never as
success.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import structlog

from ...directory import DirectoryUser
from ...ops.config import Coordination, GroupSettings
from ...ops.metrics import COORDINATION_FALLBACKS
from ...scim.errors import invalid_value
from ...telemetrytv.client import TelemetryTVSession
from ...telemetrytv.errors import NotFound, UpstreamError
from .change import UserChange
from .coordinator import Coordinator
from .locked_writes import LockedWrites
from .redis_locks import CoordinationUnavailable, HeldLock, LockLost
from .rounds import (
    MembershipIncomplete,
    Snapshot,
    bounded,
    incomplete,
    read_user,
    stop_if_told_to_wait,
)
from .verified_writes import VerifiedWrites

log = structlog.get_logger("scim_proxy.memberships")


class MembershipWriter:
    """Coordinated changes to users' group lists, in the mode in force for this process."""

    def __init__(
        self, session: TelemetryTVSession, settings: GroupSettings, coordinator: Coordinator
    ) -> None:
        self.session = session
        self.settings = settings
        self.coordinator = coordinator
        self._verified = VerifiedWrites(session, settings, coordinator.locks)
        self._locked = LockedWrites(session, settings, coordinator.locks, coordinator.redis)
        self._held: list[HeldLock] = []
        self._verified_users: set[str] = set()
        """Users this request changed in ``verify`` mode (already read back)."""

    async def validate(self, user_ids: Iterable[str]) -> dict[str, Snapshot]:
        """Read the users a request adds; 400 naming any that TelemetryTV does not hold.

        A read that failed for another reason proves nothing either way: that user is
        read again when its membership is written. In ``redis`` mode each user's lock is
        taken before its read when it is free, and kept until the user is written (so the
        write starts from this read) or :meth:`release_held` is called, which callers do
        in every path.
        """
        ids = list(user_ids)
        redis = self.coordinator.redis
        locking = redis is not None and redis.available()

        async def read(user_id: str) -> Snapshot:
            held = None
            if redis is not None and locking:
                try:
                    held = await redis.acquire(user_id, wait=False)
                except CoordinationUnavailable:
                    held = None  # the write falls back; this read still validates
            if held is not None:
                self._held.append(held)
            try:
                return await read_user(self.session, user_id, held)
            except BaseException:
                if held is not None:
                    await held.release()
                raise

        try:
            results = await bounded(ids, read, self.settings.member_concurrency)
            stop_if_told_to_wait(results.values(), done=0)
            missing = sorted(k for k, r in results.items() if isinstance(r, NotFound))
            if missing:
                shown = ", ".join(repr(m[:64]) for m in missing[:10])
                more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                raise invalid_value(
                    f"Member(s) {shown}{more} are not TelemetryTV users. Provision the users "
                    "(assign them to the app) before pushing them in a group.",
                    "unknown_members",
                )
            for result in results.values():
                if isinstance(result, BaseException) and not isinstance(result, UpstreamError):
                    raise result
        except BaseException:
            await self.release_held()
            raise
        return {k: r for k, r in results.items() if isinstance(r, Snapshot)}

    async def release_held(self) -> None:
        """Release every lock :meth:`validate` took and no write has released yet."""
        held, self._held = self._held, []
        for lock in held:
            await lock.release()

    async def change_user(
        self,
        user_id: str,
        *,
        add: Collection[str] = (),
        remove: Collection[str] = (),
        exactly: Collection[str] | None = None,
        known: Snapshot | None = None,
    ) -> DirectoryUser:
        """Put ``user_id`` in every group of ``add``, in none of ``remove`` and, when
        ``exactly`` is given, in exactly those groups; the user as it then stands.

        ``known`` is a read of the user taken earlier (reused when still current). Raises
        :class:`NotFound` when TelemetryTV has no such user, and a ScimError
        (:class:`MembershipIncomplete`) when the change could not be put in place.
        """
        change = UserChange.of(add, remove, exactly)
        outcome = (await self.change_users({user_id: change}, {user_id: known} if known else None))[
            user_id
        ]
        if isinstance(outcome, NotFound):
            raise outcome
        return outcome

    async def change_users(
        self,
        changes: Mapping[str, UserChange],
        known: Mapping[str, Snapshot] | None = None,
        *,
        about: Mapping[str, str] | None = None,
    ) -> dict[str, DirectoryUser | NotFound]:
        """Put every user's change in place (``member_concurrency`` at a time).

        Each user's outcome is the user as it then stands, or NotFound. Raises
        :class:`MembershipIncomplete` when some change could not be put in place.
        ``about`` names what the changes are for in log events (e.g. the group).
        """
        try:
            return await self._change_users(changes, dict(known or {}), dict(about or {}))
        finally:
            # Locks taken when validating that no write used (a fallback, a failure).
            await self.release_held()

    async def _change_users(
        self, changes: Mapping[str, UserChange], known: dict[str, Snapshot], about: dict[str, str]
    ) -> dict[str, DirectoryUser | NotFound]:
        if not changes:
            return {}
        if self.coordinator.mode is Coordination.verify:
            return await self._verified.run(changes, known, about)
        results = await self._locked_or_fallback(changes, known, about)
        if self.coordinator.mode is Coordination.redis and self.coordinator.in_grace():
            # This process fell back lately: its locked writes are checked like verify's.
            return await self._settle_and_check(changes, results, about)
        return results

    async def _locked_or_fallback(
        self,
        changes: Mapping[str, UserChange],
        known: Mapping[str, Snapshot],
        about: dict[str, str],
    ) -> dict[str, DirectoryUser | NotFound]:
        """The changes made under locks, or in ``verify`` for users whose lock failed."""
        redis = self.coordinator.redis
        if redis is not None and not redis.available():
            reason = redis.reason or "Redis is backing off after a failure"
            self._fell_back("redis_unavailable", reason, len(changes), about)
            return await self._verify_fallback(changes, known, about, ())
        results, fallback = await self._locked.run(changes, known)
        if fallback:
            first = next(iter(fallback.values()))
            kind = "lock_lost" if isinstance(first, LockLost) else "redis_unavailable"
            reason = first.reason if isinstance(first, CoordinationUnavailable) else str(first)
            self._fell_back(kind, reason, len(fallback), about)
            unverified = [u for u, f in fallback.items() if isinstance(f, LockLost) and f.written]
            results.update(
                await self._verify_fallback(
                    {u: changes[u] for u in fallback}, known, about, unverified
                )
            )
        return results

    async def _verify_fallback(
        self,
        changes: Mapping[str, UserChange],
        known: Mapping[str, Snapshot],
        about: dict[str, str],
        unverified: Collection[str],
    ) -> dict[str, DirectoryUser | NotFound]:
        self.coordinator.fell_back()
        self._verified_users.update(changes)
        try:
            return await self._verified.run(changes, known, about, unverified)
        finally:
            self.coordinator.fell_back()  # the grace runs from the fallback's last write

    async def _settle_and_check(
        self,
        changes: Mapping[str, UserChange],
        results: dict[str, DirectoryUser | NotFound],
        about: dict[str, str],
    ) -> dict[str, DirectoryUser | NotFound]:
        """Settle, read the users written under locks back and put undone changes in place
        again (under locks), up to ``groups.verify_rounds`` rounds, as :mod:`verified_writes`
        does. Users that fell back were verified there already."""
        check = {
            u: c
            for u, c in changes.items()
            if u not in self._verified_users and not isinstance(results.get(u), NotFound)
        }
        for round_number in range(1, self.settings.verify_rounds + 1):
            if not check:
                return results
            if not self._verified.time_for_another_round():
                break
            await self._verified.settle()
            reads = await bounded(check, self._read, self.settings.member_concurrency)
            stop_if_told_to_wait(reads.values(), done=len(changes) - len(check))
            undone: dict[str, UserChange] = {}
            for user_id, read in reads.items():
                if isinstance(read, NotFound):
                    results[user_id] = read
                elif isinstance(read, Snapshot) and check[user_id].holds(read.user.group_ids):
                    results[user_id] = read.user
                elif isinstance(read, Snapshot | UpstreamError):
                    undone[user_id] = check[user_id]  # undone, or not known: apply again
                else:
                    raise read
            if not undone:
                return results
            log.info("membership_reapplied", **about, users=len(undone), round=round_number)
            results.update(await self._locked_or_fallback(undone, {}, about))
            check = {u: c for u, c in undone.items() if u not in self._verified_users}
        raise incomplete(
            done=len(changes) - len(check),
            total=len(changes),
            failure=None,
            why="could not be verified as in place (undone again, or no time left to check)",
        )

    async def _read(self, user_id: str) -> Snapshot:
        return await read_user(self.session, user_id)

    def _fell_back(self, kind: str, reason: str, users: int, about: Mapping[str, str]) -> None:
        COORDINATION_FALLBACKS.labels(reason=kind).inc()
        log.warning(
            "coordination_fallback", **about, reason=reason, kind=kind, users=users, mode="verify"
        )

    async def apply(
        self,
        group_id: str,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        known: Mapping[str, Snapshot] | None = None,
    ) -> None:
        """Make ``add`` members and ``remove`` non-members of ``group_id``.

        ``known`` holds fresh reads of some of the users (from :meth:`validate`).
        """
        changes = {user_id: UserChange.of(add=(group_id,)) for user_id in add}
        changes.update({user_id: UserChange.of(remove=(group_id,)) for user_id in remove})
        results = await self.change_users(changes, known, about={"group_id": group_id})
        for user_id, outcome in results.items():
            if isinstance(outcome, NotFound) and changes[user_id].adds:
                raise invalid_value(
                    f"Member {user_id[:64]!r} was deleted from TelemetryTV while the group "
                    "was being updated; provision the user again, then resend the request.",
                    "unknown_members",
                )


__all__ = ["MembershipIncomplete", "MembershipWriter", "Snapshot", "bounded"]
