"""In-memory state and business rules of the TelemetryTV simulator.

Nothing here knows about HTTP: the store takes decoded JSON objects and plain integers and
raises `StoreError` subclasses that the Starlette layer maps onto status codes.

Data layout, chosen because the simulator is the upstream of 50k-user import benchmarks:

- users and groups live in dicts keyed by id (O(1) get/update/delete);
- `_user_ids` / `_group_ids` hold the ids in creation order. Ids grow monotonically, so a
  create is an append, a delete is a bisect, and a page is a slice;
- `_by_email` maps the casefolded email to the user id (uniqueness and `?email=` filter);
- `_members` maps a group id to the sorted ids of the users holding it, so
  `?user_group_id=` pages are slices too.

The store is not thread-safe: it is meant to be driven from one event loop.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scim_proxy.simulator.model import (
    ADMIN_GROUP_NAME,
    OWNER_PASSWORD,
    SEED_PASSWORD,
    ConflictError,
    ForbiddenError,
    GroupView,
    NotFoundError,
    SimulatorSettings,
    UserInput,
    UserView,
    format_millis,
    parse_group_name,
    parse_user_fields,
)

_FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Emma", "Femi", "Grace", "Hugo", "Ines", "Jon")
_LAST_NAMES = ("Adams", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hill", "Ito")


class _CounterSource:
    """The process-wide id counter: values are never handed out twice in one process.

    Sharing it between stores keeps ids unique across simulators in one test process, so an
    id leaked from one simulator into another is a 404 rather than a wrong match.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0

    def reserve(self, floor: int, count: int) -> int:
        """Reserve `count` consecutive values at or above `floor`; return the first."""
        with self._lock:
            first = max(floor, self._next)
            self._next = first + count
        return first


_COUNTERS = _CounterSource()


@dataclass(slots=True)
class _User:
    id: str
    email: str
    first_name: str
    last_name: str
    password: str
    group_ids: list[str]
    disabled: bool
    created_at: str
    updated_at: str
    updated_ms: int

    def view(self) -> UserView:
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "user_group_ids": list(self.group_ids),
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True)
class _Group:
    id: str
    name: str
    built_in: bool
    created_at: str
    updated_at: str
    updated_ms: int

    def view(self) -> GroupView:
        return {
            "id": self.id,
            "name": self.name,
            "built_in": self.built_in,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class SimulatorStore:
    """One TelemetryTV account: users, user groups and their rules, in memory.

    Public attributes: `settings`, `owner_id` (the undeletable account owner) and
    `admin_group_id` (the built-in Admin group). `clock` returns epoch seconds (default
    `time.time`); tests inject a fixed one. Reads return fresh dicts, never live state.
    """

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create the Admin group, the account owner and `settings.users` seeded users."""
        self.settings = settings or SimulatorSettings()
        self._clock = clock
        self._id_seconds = 0
        self._users: dict[str, _User] = {}
        self._user_ids: list[str] = []
        self._by_email: dict[str, str] = {}
        self._groups: dict[str, _Group] = {}
        self._group_ids: list[str] = []
        self._by_name: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}
        admin = self._add_group(ADMIN_GROUP_NAME, built_in=True)
        self.admin_group_id: str = admin.id
        owner = self._add_user(
            UserInput(
                email=self.settings.owner_email,
                first_name="Account",
                last_name="Owner",
                password=OWNER_PASSWORD,
                user_group_ids=[admin.id],
            )
        )
        self.owner_id: str = owner.id
        self._seed_users(self.settings.users)

    # -- users -------------------------------------------------------------------------

    @property
    def user_count(self) -> int:
        """How many users the account holds, owner included."""
        return len(self._users)

    def list_users(
        self,
        *,
        page: int = 1,
        per_page: int = 50,
        email: str | None = None,
        user_group_id: str | None = None,
    ) -> tuple[list[UserView], int]:
        """One page of users in creation order, and the total number matching the filters."""
        ids: list[str]
        if email is not None:
            found = self._by_email.get(email.casefold())
            ids = [] if found is None else [found]
            if user_group_id is not None:
                ids = [uid for uid in ids if user_group_id in self._users[uid].group_ids]
        elif user_group_id is not None:
            ids = self._members.get(user_group_id, [])
        else:
            ids = self._user_ids
        users = self._users
        return [users[uid].view() for uid in _page_of(ids, page, per_page)], len(ids)

    def get_user(self, user_id: str) -> UserView:
        """The user, or NotFoundError."""
        return self._user(user_id).view()

    def password_of(self, user_id: str) -> str | None:
        """The stored password (for tests only: it never goes over HTTP); None if unknown."""
        user = self._users.get(user_id)
        return None if user is None else user.password

    def create_user(self, data: Mapping[str, object]) -> UserView:
        """Validate (400), check email uniqueness (409) and the plan limit (403), then add."""
        changes = parse_user_fields(data, creating=True, known_group_ids=self._groups)
        assert changes.email is not None
        if changes.email.casefold() in self._by_email:
            raise ConflictError("Email has already been taken")
        limit = self.settings.user_limit
        if limit is not None and len(self._users) >= limit:
            raise ForbiddenError(f"Your plan's user limit ({limit} users) has been reached")
        return self._add_user(changes).view()

    def update_user(self, user_id: str, data: Mapping[str, object]) -> UserView:
        """Apply any subset of the writable fields; a body naming none of them writes nothing."""
        user = self._user(user_id)
        changes = parse_user_fields(data, creating=False, known_group_ids=self._groups)
        if changes.is_empty():
            return user.view()
        if changes.email is not None:
            key = changes.email.casefold()
            holder = self._by_email.get(key)
            if holder is not None and holder != user.id:
                raise ConflictError("Email has already been taken")
            del self._by_email[user.email.casefold()]
            self._by_email[key] = user.id
            user.email = changes.email
        if changes.first_name is not None:
            user.first_name = changes.first_name
        if changes.last_name is not None:
            user.last_name = changes.last_name
        if changes.password is not None:
            user.password = changes.password
        if changes.disabled is not None:
            user.disabled = changes.disabled
        if changes.user_group_ids is not None:
            self._set_memberships(user, changes.user_group_ids)
        self._touch_user(user)
        return user.view()

    def delete_user(self, user_id: str) -> None:
        """Remove the user from every index; the account owner is protected (403)."""
        user = self._user(user_id)
        if user.id == self.owner_id:
            raise ForbiddenError("The account owner cannot be deleted")
        self._set_memberships(user, [])
        del self._by_email[user.email.casefold()]
        del self._users[user.id]
        _remove_sorted(self._user_ids, user.id)

    # -- groups ------------------------------------------------------------------------

    def list_groups(
        self, *, page: int = 1, per_page: int = 50, name: str | None = None
    ) -> tuple[list[GroupView], int]:
        """One page of groups in creation order, and the total number matching `name`."""
        ids: list[str]
        if name is not None:
            found = self._by_name.get(name)
            ids = [] if found is None else [found]
        else:
            ids = self._group_ids
        groups = self._groups
        return [groups[gid].view() for gid in _page_of(ids, page, per_page)], len(ids)

    def get_group(self, group_id: str) -> GroupView:
        """The group, or NotFoundError."""
        return self._group(group_id).view()

    def create_group(self, data: Mapping[str, object]) -> GroupView:
        """Validate the name (400) and its uniqueness (409), then add the group."""
        name = parse_group_name(data, required=True)
        assert name is not None
        if name in self._by_name:
            raise ConflictError("Name has already been taken")
        return self._add_group(name, built_in=False).view()

    def update_group(self, group_id: str, data: Mapping[str, object]) -> GroupView:
        """Rename the group; built-in groups refuse any actual rename (403)."""
        group = self._group(group_id)
        name = parse_group_name(data, required=False)
        if name is None:
            return group.view()
        if group.built_in:
            # Re-sending the current name is not a rename: clients often PATCH whole objects.
            if name == group.name:
                return group.view()
            raise ForbiddenError("Built-in groups cannot be renamed or deleted")
        holder = self._by_name.get(name)
        if holder is not None and holder != group.id:
            raise ConflictError("Name has already been taken")
        del self._by_name[group.name]
        self._by_name[name] = group.id
        group.name = name
        group.updated_ms, group.updated_at = self._stamp(group.updated_ms)
        return group.view()

    def delete_group(self, group_id: str) -> None:
        """Remove the group and drop its id from every member's `user_group_ids`."""
        group = self._group(group_id)
        if group.built_in:
            raise ForbiddenError("Built-in groups cannot be renamed or deleted")
        for user_id in self._members.pop(group.id):
            user = self._users[user_id]
            user.group_ids.remove(group.id)
            self._touch_user(user)
        del self._by_name[group.name]
        del self._groups[group.id]
        _remove_sorted(self._group_ids, group.id)

    # -- internals ---------------------------------------------------------------------

    def _user(self, user_id: str) -> _User:
        # Malformed ids simply miss the dict, which is exactly the wanted 404.
        user = self._users.get(user_id)
        if user is None:
            raise NotFoundError("User not found")
        return user

    def _group(self, group_id: str) -> _Group:
        group = self._groups.get(group_id)
        if group is None:
            raise NotFoundError("User group not found")
        return group

    def _new_ids(self, count: int) -> list[str]:
        # Clamping the seconds keeps ids sorted even if the wall clock steps backwards;
        # bisect-based deletes rely on `_user_ids` staying sorted.
        self._id_seconds = max(self._id_seconds, int(self._clock())) & 0xFFFFFFFF
        first = _COUNTERS.reserve(self.settings.seed, count)
        prefix = f"{self._id_seconds:08x}"
        return [f"{prefix}{n:016x}" for n in range(first, first + count)]

    def _stamp(self, previous_ms: int | None = None) -> tuple[int, str]:
        # Strictly later than the previous write, so two writes within one millisecond
        # still change updated_at (clients use it to notice changes).
        millis = int(self._clock() * 1000)
        if previous_ms is not None and millis <= previous_ms:
            millis = previous_ms + 1
        return millis, format_millis(millis)

    def _touch_user(self, user: _User) -> None:
        user.updated_ms, user.updated_at = self._stamp(user.updated_ms)

    def _add_user(self, changes: UserInput) -> _User:
        assert changes.email is not None
        assert changes.password is not None
        millis, stamp = self._stamp()
        user = _User(
            id=self._new_ids(1)[0],
            email=changes.email,
            first_name=changes.first_name or "",
            last_name=changes.last_name or "",
            password=changes.password,
            group_ids=[],
            disabled=bool(changes.disabled),
            created_at=stamp,
            updated_at=stamp,
            updated_ms=millis,
        )
        self._users[user.id] = user
        self._user_ids.append(user.id)
        self._by_email[user.email.casefold()] = user.id
        if changes.user_group_ids:
            self._set_memberships(user, changes.user_group_ids)
        return user

    def _add_group(self, name: str, *, built_in: bool) -> _Group:
        millis, stamp = self._stamp()
        group = _Group(self._new_ids(1)[0], name, built_in, stamp, stamp, millis)
        self._groups[group.id] = group
        self._group_ids.append(group.id)
        self._by_name[name] = group.id
        self._members[group.id] = []
        return group

    def _set_memberships(self, user: _User, group_ids: list[str]) -> None:
        new = set(group_ids)
        for gid in user.group_ids:
            if gid not in new:
                _remove_sorted(self._members[gid], user.id)
        old = set(user.group_ids)
        for gid in group_ids:
            if gid not in old:
                insort(self._members[gid], user.id)
        user.group_ids = list(group_ids)

    def _seed_users(self, count: int) -> None:
        # Bypasses validation on purpose: 50k inputs are known-good and must seed fast.
        seed = self.settings.seed
        ids = self._new_ids(count)
        millis, stamp = self._stamp()
        for n, user_id in enumerate(ids, start=1):
            email = f"user{n:04d}@example.com"
            if email in self._by_email:
                raise ValueError(f"owner_email {email!r} collides with a seeded user")
            self._users[user_id] = _User(
                user_id,
                email,
                _FIRST_NAMES[(n + seed) % len(_FIRST_NAMES)],
                _LAST_NAMES[(n * 7 + seed) % len(_LAST_NAMES)],
                SEED_PASSWORD,
                [],
                False,
                stamp,
                stamp,
                millis,
            )
            self._by_email[email] = user_id
        self._user_ids.extend(ids)


def _page_of(ids: list[str], page: int, per_page: int) -> list[str]:
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page must be >= 1")
    start = (page - 1) * per_page
    return ids[start : start + per_page]


def _remove_sorted(ids: list[str], item: str) -> None:
    index = bisect_left(ids, item)
    if index < len(ids) and ids[index] == item:
        del ids[index]
