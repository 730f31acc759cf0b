"""``check --write``: every kind of write the proxy makes, carried out and read back.

The writes go through the code the proxy runs: the adapter's session methods for users
and groups, and for memberships the :class:`MembershipWriter`, which changes the user's
group list as the proxy does (read the user, write the whole list). Each item is then read
back the way the proxy reads (by id, by email or name, a group's member listing), so a
write the account accepts and silently drops is a FAIL, not a pass.

What the check creates is noted in the :class:`Ledger` before each create is sent; the
clean-up (``ledger.py``) removes it whatever happens here. Upstream field names stay in
the adapter: what was sent and what came back is shown from the exchange log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..directory import DirectoryUser, NewUser, UserChanges
from ..ops.context import start_request_stats
from ..scim.errors import ScimError
from ..telemetrytv.client import TelemetryTVSession
from ..telemetrytv.errors import (
    BadResponse,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    UpstreamError,
)
from ..telemetrytv.errors import UpstreamUnavailable as Unavailable
from ..telemetrytv.recording import ExchangeLog
from ..telemetrytv.wire import refused_user_attributes
from ..translation.memberships import MembershipWriter
from ..translation.passwords import generate_password
from . import step_texts as texts
from .ledger import GROUP, USER, Created, Ledger
from .report import Item, Status
from .step_texts import (
    ADD_MEMBER,
    CHANGE_EMAIL,
    CHANGE_PASSWORD,
    CREATE_GROUP,
    CREATE_USER,
    DELETE_GROUP,
    DELETE_USER,
    DISABLE,
    ENABLE,
    ITEMS,
    NEEDS,
    REMOVE_MEMBER,
    RENAME_GROUP,
    UPDATE_NAMES,
)
from .throwaway import Throwaway
from .upstream_text import upstream_detail, upstream_fix


@dataclass(frozen=True)
class Verdict:
    """How one item went."""

    status: Status
    detail: str
    fix: str = ""


def _verdict(name: str, problems: list[str], ok: str) -> Verdict:
    """FAIL naming the problems (with what that means for ``name``), else PASS saying ``ok``."""
    if problems:
        return _failed(name, "; ".join(problems))
    return Verdict(Status.PASS, ok)


def _failed(name: str, detail: str) -> Verdict:
    return Verdict(Status.FAIL, detail, texts.ITEM_FIX[name])


class WriteCheck:
    """The write items, run in order; each one's outcome is an :class:`Item`."""

    def __init__(
        self,
        session: TelemetryTVSession,
        memberships: MembershipWriter,
        log: ExchangeLog,
        ledger: Ledger,
        throwaway: Throwaway,
        *,
        deactivation_deletes: bool,
        budget: float,
        passwords: Callable[[], str] = generate_password,
        on_item: Callable[[Item], None] = lambda item: None,
    ) -> None:
        self.session = session
        self.memberships = memberships
        self.log = log
        self.ledger = ledger
        self.names = throwaway
        self.deactivation_deletes = deactivation_deletes
        self.budget = budget
        self.passwords = passwords
        self.on_item = on_item
        self.items: list[Item] = []
        self._user = Created(USER, [throwaway.email])
        self._group = Created(GROUP, [throwaway.group])

    async def run(self) -> None:
        """Run every item in order (a cancellation stops them; see :meth:`not_run`)."""
        steps: dict[str, Callable[[], Awaitable[Verdict]]] = {
            CREATE_USER: self._create_user,
            UPDATE_NAMES: self._update_names,
            CHANGE_EMAIL: self._change_email,
            CHANGE_PASSWORD: self._change_password,
            DISABLE: lambda: self._set_disabled(DISABLE, True),
            ENABLE: lambda: self._set_disabled(ENABLE, False),
            CREATE_GROUP: self._create_group,
            RENAME_GROUP: self._rename_group,
            ADD_MEMBER: lambda: self._membership(ADD_MEMBER, add=True),
            REMOVE_MEMBER: lambda: self._membership(REMOVE_MEMBER, add=False),
            DELETE_GROUP: self._delete_group,
            DELETE_USER: self._delete_user,
        }
        for name in ITEMS:
            await self._item(name, steps[name])

    def not_run(self, why: str) -> None:
        """Record the items not reached as skipped, saying ``why``."""
        done = {item.name for item in self.items}
        for name in ITEMS:
            if name not in done:
                self._add(Item("write", name, Status.SKIPPED, why))

    def _status(self, name: str) -> Status | None:
        return next((item.status for item in self.items if item.name == name), None)

    def _add(self, item: Item) -> None:
        self.items.append(item)
        self.on_item(item)

    async def _item(self, name: str, step: Callable[[], Awaitable[Verdict]]) -> None:
        blocked = [
            n for n in NEEDS.get(name, ()) if self._status(n) not in (Status.PASS, Status.WARN)
        ]
        if blocked:
            needs = " and ".join(repr(n) for n in blocked)
            self._add(Item("write", name, Status.SKIPPED, f"needs {needs}, which did not pass"))
            return
        start_request_stats(self.budget)  # each item gets a request's time, as in the proxy
        mark = self.log.mark()
        started = time.perf_counter()
        try:
            verdict = await step()
        except UpstreamError as exc:
            verdict = Verdict(Status.FAIL, upstream_detail(exc), self._fix_for(name, exc))
        except Exception as exc:  # a bug here must not stop the clean-up
            verdict = Verdict(Status.FAIL, texts.unexpected(exc), texts.BUG_FIX)
        except asyncio.CancelledError:
            stopped = Item("write", name, Status.SKIPPED, "interrupted while it ran")
            stopped.exchanges = self.log.since(mark)
            self._add(stopped)
            raise
        if (
            name in (DISABLE, ENABLE)
            and self.deactivation_deletes
            and verdict.status is Status.FAIL
            and verdict.fix == texts.DEACTIVATION_FIX
        ):
            verdict = Verdict(Status.WARN, verdict.detail, texts.DEACTIVATION_DELETES)
        elapsed = (time.perf_counter() - started) * 1000
        self._add(
            Item(
                "write",
                name,
                verdict.status,
                verdict.detail,
                verdict.fix,
                self.log.since(mark),
                elapsed,
            )
        )

    def _fix_for(self, name: str, exc: UpstreamError) -> str:
        if isinstance(exc, Unauthorized | RateLimited | Unavailable) or exc.status == 405:
            return upstream_fix(exc)
        if name == CREATE_USER and _refuses_email(exc):
            return texts.DOMAIN_FIX
        if name in (CREATE_USER, CREATE_GROUP):
            return upstream_fix(exc)
        return texts.ITEM_FIX[name]

    @property
    def _user_id(self) -> str:
        assert self._user.id is not None  # the item needs CREATE_USER, which set it
        return self._user.id

    @property
    def _group_id(self) -> str:
        assert self._group.id is not None  # the item needs CREATE_GROUP, which set it
        return self._group.id

    # -- users ---------------------------------------------------------------------------

    async def _create_user(self) -> Verdict:
        names = self.names
        password = self.passwords()
        self.log.add_secret(password)
        self._user = self.ledger.expect(USER, names.email)
        new = NewUser(names.email, names.given, names.family, password)
        created = await self.session.create_user(new)
        if created.email.casefold() != names.email.casefold():
            return Verdict(Status.FAIL, texts.not_ours("user", created.id), texts.ADAPTER_FIX)
        self._user.id = created.id
        user = await self.session.get_user(created.id)
        problems = _differences(user, names.email, (names.given, names.family), disabled=False)
        found = await self.session.find_user_by_email(names.email)
        if found is None or found.id != created.id:
            problems.append(texts.EMAIL_LOOKUP_MISSES)
        return _verdict(CREATE_USER, problems, f"created (id {created.id}); reads back as sent")

    async def _update_names(self) -> Verdict:
        names = self.names
        wanted = (names.new_given, names.new_family)
        changes = UserChanges(given_name=names.new_given, family_name=names.new_family)
        await self.session.update_user(self._user_id, changes)
        user = await self.session.get_user(self._user_id)
        problems = _differences(user, names.email, wanted, disabled=False)
        return _verdict(UPDATE_NAMES, problems, "the new names read back")

    async def _change_email(self) -> Verdict:
        new = self.names.changed_email
        self._user.names.append(new)
        await self.session.update_user(self._user_id, UserChanges(email=new))
        user = await self.session.get_user(self._user_id)
        problems = _differences(user, new, None, disabled=False)
        found = await self.session.find_user_by_email(new)
        if found is None or found.id != self._user_id:
            problems.append(texts.EMAIL_LOOKUP_MISSES)
        return _verdict(CHANGE_EMAIL, problems, "the new email reads back, and finds the user")

    async def _change_password(self) -> Verdict:
        password = self.passwords()
        self.log.add_secret(password)
        await self.session.update_user(self._user_id, UserChanges(password=password))
        return Verdict(Status.PASS, texts.PASSWORD_ACCEPTED)

    async def _set_disabled(self, name: str, disabled: bool) -> Verdict:
        await self.session.update_user(self._user_id, UserChanges(disabled=disabled))
        user = await self.session.get_user(self._user_id)
        if user.disabled != disabled:
            reads = "enabled" if disabled else "still disabled"
            return Verdict(
                Status.FAIL,
                texts.accepted_but(f"the user reads back {reads}"),
                texts.DEACTIVATION_FIX,
            )
        return Verdict(Status.PASS, "reads back " + ("disabled" if disabled else "enabled"))

    async def _delete_user(self) -> Verdict:
        await self.session.delete_user(self._user_id)
        if await _exists(self.session.get_user(self._user_id)):
            return Verdict(
                Status.FAIL,
                texts.accepted_but("the user is still there"),
                texts.ITEM_FIX[DELETE_USER],
            )
        self._user.gone = True
        if await self.session.find_user_by_email(self._user.names[-1]) is not None:
            return _failed(DELETE_USER, texts.FOUND_AFTER_DELETE)
        return Verdict(Status.PASS, "gone: reading it by id answers 404")

    # -- groups --------------------------------------------------------------------------

    async def _create_group(self) -> Verdict:
        name = self.names.group
        self._group = self.ledger.expect(GROUP, name)
        created = await self.session.create_group(name)
        if created.name != name or created.built_in:
            return Verdict(Status.FAIL, texts.not_ours("group", created.id), texts.ADAPTER_FIX)
        self._group.id = created.id
        return await self._group_reads_back(
            CREATE_GROUP, name, f"created (id {created.id}); reads back as sent"
        )

    async def _rename_group(self) -> Verdict:
        name = self.names.renamed_group
        self._group.names.append(name)
        await self.session.rename_group(self._group_id, name)
        return await self._group_reads_back(RENAME_GROUP, name, "the new name reads back")

    async def _group_reads_back(self, item: str, name: str, ok: str) -> Verdict:
        group = await self.session.get_group(self._group_id)
        problems = []
        if group.name != name:
            problems.append(texts.accepted_but(f"the group reads back as {group.name!r}"))
        if group.built_in:
            problems.append("the group reads back as built-in")
        found = await self.session.find_group_by_name(name)
        if found is None or found.id != self._group_id:
            problems.append(texts.NAME_LOOKUP_MISSES)
        return _verdict(item, problems, ok)

    async def _membership(self, name: str, *, add: bool) -> Verdict:
        user_id, group_id = self._user_id, self._group_id
        refused = ""
        try:
            if add:
                await self.memberships.change_user(user_id, add=(group_id,))
            else:
                await self.memberships.change_user(user_id, remove=(group_id,))
        except ScimError as exc:
            cause = exc.__cause__
            if isinstance(cause, UpstreamError) and not isinstance(cause, BadResponse):
                raise cause from exc  # refused or failed: reported as any upstream failure
            # The writer found the list written other than sent: read back here too.
            refused = exc.detail
        user = await self.session.get_user(user_id)
        members = await self.session.list_users(1, 10, group_id=group_id)
        problems = []
        if (group_id in user.group_ids) != add:
            problems.append(texts.accepted_but(texts.group_list_reads(add)))
        if any(member.id == user_id for member in members.items) != add:
            problems.append(texts.member_listing_reads(add))
        if refused and not problems:
            problems.append(refused)
        ok = "the user's group list and the group's member listing " + (
            "hold the user" if add else "no longer hold the user"
        )
        return _verdict(name, problems, ok)

    async def _delete_group(self) -> Verdict:
        await self.session.delete_group(self._group_id)
        if await _exists(self.session.get_group(self._group_id)):
            return Verdict(
                Status.FAIL,
                texts.accepted_but("the group is still there"),
                texts.ITEM_FIX[DELETE_GROUP],
            )
        self._group.gone = True
        return Verdict(Status.PASS, "gone: reading it by id answers 404")


def _differences(
    user: DirectoryUser, email: str, names: tuple[str, str] | None, *, disabled: bool
) -> list[str]:
    """What of ``user`` reads back other than written."""
    problems = []
    if user.email.casefold() != email.casefold():
        problems.append(f"the email reads back {user.email!r}, not {email!r}")
    if names is not None and (user.given_name, user.family_name) != names:
        problems.append(
            f"the names read back {user.given_name!r} {user.family_name!r}, "
            f"not {names[0]!r} {names[1]!r}"
        )
    if user.disabled != disabled:
        problems.append("the user reads back " + ("disabled" if user.disabled else "enabled"))
    return problems


def _refuses_email(exc: UpstreamError) -> bool:
    if not isinstance(exc, InvalidRequest):
        return False
    return "email" in refused_user_attributes(exc) or "email" in exc.message.lower()


async def _exists(read: Awaitable[object]) -> bool:
    try:
        await read
    except NotFound:
        return False
    return True
