"""Everything the write check created, or may have, until it is confirmed gone.

An entry is made before its create is sent, holding the unique name the check gave it
(the user's email, the group's name). Its id is noted only when the create's answer is
the object asked for (same email or name, never a built-in group): an id never comes from
anywhere else, so the clean-up can only touch what the check made. A create whose answer
never came (an error after sending, an interruption) is looked up by that unique name,
and adopted only when what is found carries it.

The clean-up deletes groups first (a user refused deletion then leaves no group behind),
reads each back to confirm it is gone, and keeps, for anything it could not remove, why.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..ops.context import start_request_stats
from ..telemetrytv.client import TelemetryTVSession
from ..telemetrytv.errors import NotFound, UpstreamError
from .report import Leftover
from .upstream_text import upstream_detail

USER = "user"
GROUP = "group"


@dataclass
class Created:
    """One object the check created, or may have."""

    kind: str
    names: list[str]
    """Every email (user) or name (group) the check gave it, the creating one first."""
    id: str | None = None
    gone: bool = False
    problem: str = ""
    """Why the clean-up could not remove it."""


@dataclass
class Ledger:
    """What the check created, in order."""

    entries: list[Created] = field(default_factory=list)

    def expect(self, kind: str, name: str) -> Created:
        """Note a create about to be sent, under the unique ``name`` it gives the object."""
        entry = Created(kind, [name])
        self.entries.append(entry)
        return entry

    def outstanding(self) -> list[Created]:
        """The entries not confirmed gone."""
        return [entry for entry in self.entries if not entry.gone]

    async def clean(self, session: TelemetryTVSession, budget: float) -> None:
        """Remove every outstanding entry, groups first; note why when one cannot be.

        Each removal gets ``budget`` seconds, as one request through the proxy would.
        """
        for kind in (GROUP, USER):
            for entry in self.outstanding():
                if entry.kind == kind:
                    start_request_stats(budget)
                    await self._remove(session, entry)

    def leftovers(self, interrupted_by: str | None = None) -> list[Leftover]:
        """What is (or may be) still in TelemetryTV, with why."""
        found: list[Leftover] = []
        for entry in self.outstanding():
            why = entry.problem or (
                f"the clean-up was stopped by a second {interrupted_by}"
                if interrupted_by
                else "not removed"
            )
            found.append(Leftover(entry.kind, entry.id, tuple(entry.names), why))
        return found

    async def _remove(self, session: TelemetryTVSession, entry: Created) -> None:
        failure: UpstreamError | None = None
        try:
            if entry.id is None and not await self._find(session, entry):
                return
            assert entry.id is not None
            try:
                if entry.kind == USER:
                    await session.delete_user(entry.id)
                else:
                    await session.delete_group(entry.id)
            except NotFound:
                pass  # gone already: the read below confirms it
            except UpstreamError as exc:
                failure = exc  # its answer may be what was lost: the read below tells
            if await _still_there(session, entry.kind, entry.id):
                entry.problem = (
                    f"could not be removed: {upstream_detail(failure)}"
                    if failure is not None
                    else "TelemetryTV accepted the delete, but it is still there"
                )
                return
        except UpstreamError as exc:
            entry.problem = f"could not be removed: {upstream_detail(failure or exc)}"
            return
        except asyncio.CancelledError:
            entry.problem = "the clean-up was stopped while removing it (it may be gone)"
            raise
        except Exception as exc:  # a bug must not stop the rest of the clean-up
            entry.problem = f"could not be removed: {type(exc).__name__}: {exc}"
            return
        entry.gone = True

    async def _find(self, session: TelemetryTVSession, entry: Created) -> bool:
        """Look up by its unique name an object whose create answer never came.

        False (and the entry settled) when there is none, or what is found is not the
        check's; True with the id noted when it is.
        """
        name = entry.names[0]
        if entry.kind == USER:
            user = await session.find_user_by_email(name)
            if user is not None and user.email.casefold() == name.casefold():
                entry.id = user.id
                return True
        else:
            group = await session.find_group_by_name(name)
            if group is not None and group.name == name and not group.built_in:
                entry.id = group.id
                return True
        entry.gone = True  # never created (or not by the check: left alone)
        return False


async def _still_there(session: TelemetryTVSession, kind: str, object_id: str) -> bool:
    try:
        if kind == USER:
            await session.get_user(object_id)
        else:
            await session.get_group(object_id)
    except NotFound:
        return False
    return True
