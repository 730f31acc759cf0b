"""The SCIM Users resource, carried out on TelemetryTV users.

Each method costs a fixed, small number of upstream calls (see docs/architecture.md):
a read by id or a ``userName eq`` lookup is one call, a page of users one or two, a
create one (two when created inactive), a PATCH replacing only plain attributes one
(the partial update itself), any other patch or a replace two (read, then one partial
update holding every change, so a request is applied whole or not at all). Changed
``roles`` are written after that update, as memberships (:meth:`UserProvisioning.patch`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from pydantic import ValidationError
from scim2_models import Context, PatchOp, ResponseParameters, SCIMException

from ..directory import DirectoryUser, UserChanges
from ..ops.config import Deactivation, Settings
from ..ops.context import note_quirk
from ..scim.errors import ScimError, not_found
from ..scim.filters import equality_lookups, parse_filter, same_string, user_name_eq
from ..scim.models import USER_SCHEMA, User
from ..scim.params import ListQuery, returns_attribute
from ..scim.payloads import UserCreation, apply_patch_in_slices
from ..scim.render import dump_resource
from ..telemetrytv.client import TelemetryTVSession, TooLarge
from ..telemetrytv.errors import NotFound, UpstreamError
from .direct_user_patch import direct_changes, sets_active
from .errors import scim_error_for
from .paging import scim_page
from .role_steps import RoleChange, role_steps
from .user_attributes import new_user, user_document, user_documents, user_resource, user_update

if TYPE_CHECKING:
    from .roles import UserRoles

log = structlog.get_logger("scim_proxy.users")

USER_FILTER_ATTRIBUTES = {
    name.lower(): name
    for name in (
        "id",
        "userName",
        "displayName",
        "active",
        "name",
        "name.givenName",
        "name.familyName",
        "emails",
        "emails.value",
        "emails.type",
        "emails.primary",
        "groups",
        "groups.value",
        "meta.created",
        "meta.lastModified",
    )
}
"""Attributes a Users filter may name (lower-cased path -> spelling)."""

USER_LOOKUP_KEYS = {"id": "id", "username": "email", "emails.value": "email"}
"""Filter attributes answered by a keyed upstream lookup instead of a scan."""

MAX_LOOKUPS = 10
"""More keyed lookups than this in one filter are answered by a scan instead."""


class TooManyMatches(ScimError):
    """A filter would have to be evaluated over more users than the configured limit."""


@contextmanager
def upstream_errors(resource: str, resource_id: str | None = None) -> Iterator[None]:
    """Turn upstream failures inside the block into SCIM errors."""
    try:
        yield
    except NotFound as exc:
        if resource_id is None:
            raise scim_error_for(exc, resource=resource) from exc
        raise not_found(resource, resource_id) from exc
    except UpstreamError as exc:
        raise scim_error_for(exc, resource=resource) from exc


@dataclasses.dataclass(frozen=True)
class _Updated:
    """The user after :meth:`UserProvisioning._update`, and whether the update deleted it."""

    user: DirectoryUser
    deleted: bool = False


class UserProvisioning:
    """SCIM User operations for one inbound request."""

    def __init__(
        self,
        session: TelemetryTVSession,
        settings: Settings,
        base_url: str,
        roles: UserRoles | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.base_url = base_url
        self.roles = roles
        """Users' ``roles`` (``None`` when ``[roles] enabled`` is off: none shown or written)."""

    def _resource(self, user: DirectoryUser) -> User:
        return user_resource(user, self.base_url)

    async def role_names(
        self, users: Sequence[DirectoryUser], params: ResponseParameters[Any] | None
    ) -> Mapping[str, str] | None:
        """Group names for these users' ``roles``; ``None`` when no response shows roles."""
        if self.roles is None or not returns_attribute(params, "roles"):
            return None
        return await self.roles.names_for(users)

    def document(
        self,
        user: DirectoryUser,
        params: ResponseParameters[Any] | None,
        context: Context,
        role_names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The user's JSON in a response: built directly unless attributes are selected."""
        if params is None:
            return user_document(user, self.base_url, role_names)
        resource = user_resource(user, self.base_url, role_names)
        return dump_resource(resource, params, context=context)

    def documents(
        self,
        users: Sequence[DirectoryUser],
        params: ResponseParameters[Any] | None,
        context: Context,
        role_names: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """A page's users as :meth:`document` gives each: in one pass unless selected."""
        if params is None:
            return user_documents(users, self.base_url, role_names)
        return [self.document(user, params, context, role_names) for user in users]

    def location(self, user: DirectoryUser) -> str:
        """The user's SCIM URL."""
        return f"{self.base_url}/Users/{user.id}"

    async def get(self, user_id: str) -> DirectoryUser:
        """The user with this id."""
        with upstream_errors("User", user_id):
            return await self.session.get_user(user_id)

    async def search(self, query: ListQuery) -> tuple[list[DirectoryUser], int]:
        """One page of the users matching the query, and how many match in all."""
        if query.filter is None:
            return await self._page(query)
        user_name = user_name_eq(query.filter)
        if user_name is not None:
            # Okta's lookup before every create: answered without parsing the filter.
            with upstream_errors("User"):
                found = await self.session.find_user_by_email(user_name)
            hits = [found] if found is not None and same_string(user_name, found.email) else []
            start = query.start_index - 1
            return hits[start : start + query.count], len(hits)
        parsed = parse_filter(
            User,
            query.filter,
            allowed=USER_FILTER_ATTRIBUTES,
            max_or_terms=self.settings.scim.max_filter_or_terms,
        )
        lookups = equality_lookups(parsed.ast, USER_LOOKUP_KEYS, USER_SCHEMA)
        if lookups is not None and len(lookups) > MAX_LOOKUPS:
            lookups = None  # cheaper, and bounded, as one scan of the listing
        with upstream_errors("User"):
            candidates = await (self._lookup(lookups) if lookups is not None else self._scan())
        matches = [u for u in candidates if parsed.match(self._resource(u))]
        start = query.start_index - 1
        return matches[start : start + query.count], len(matches)

    async def _page(self, query: ListQuery) -> tuple[list[DirectoryUser], int]:
        with upstream_errors("User"):
            return await scim_page(self.session.list_users, query.start_index, query.count)

    async def _lookup(self, lookups: list[tuple[str, str]]) -> list[DirectoryUser]:
        found: dict[str, DirectoryUser] = {}
        for kind, value in lookups:
            if kind == "id":
                try:
                    user: DirectoryUser | None = await self.session.get_user(value)
                except NotFound:
                    user = None
            else:
                user = await self.session.find_user_by_email(value)
            if user is not None:
                found[user.id] = user
        return [found[key] for key in sorted(found)]

    async def _scan(self) -> list[DirectoryUser]:
        try:
            return await self.session.walk_users(
                self.settings.upstream.page_size, limit=self.settings.scim.filter_scan_limit
            )
        except TooLarge as exc:
            raise self._too_many(exc.total) from exc

    def _too_many(self, total: int | None) -> ScimError:
        held = f"{total} users" if total is not None else "more users than that"
        return TooManyMatches(
            400,
            f"This filter can only be evaluated over at most "
            f"{self.settings.scim.filter_scan_limit} users and TelemetryTV holds {held}. "
            "Filter with userName eq, id eq or emails.value eq instead.",
            "tooMany",
            reason="filter_scan_limit",
        )

    async def create(self, creation: UserCreation) -> DirectoryUser:
        """Create the user; an ``active: false`` user is created, then disabled.

        Roles are resolved first (an unknown one is a 400 before anything is written) and
        the new user is created in their groups: no other writer knows its id yet.
        """
        new = new_user(creation)
        if self.roles is not None and creation.roles:
            group_ids = await self.roles.resolve_entries(creation.roles)
            new = dataclasses.replace(new, group_ids=tuple(group_ids))
        with upstream_errors("User"):
            created = await self.session.create_user(new)
        if creation.active is False:
            with upstream_errors("User", created.id):
                created = await self.session.update_user(created.id, UserChanges(disabled=True))
        return created

    async def replace(
        self, user_id: str, resource: User, echoed_groups: frozenset[str] | None = None
    ) -> DirectoryUser:
        """Replace what TelemetryTV holds of the user with ``resource`` (a PUT).

        ``roles``, when sent, become exactly the user's groups; left out, they stay. Roles
        that name exactly the PUT's own (read-only) ``groups``, ``echoed_groups``, only echo
        the client's earlier GET (Okta's App Integration Wizard apps PUT the whole user
        back): they change no membership, so a profile update never undoes a group push
        made since that GET.
        """
        read_at = time.monotonic()
        with upstream_errors("User", user_id):
            current = await self.session.get_user(user_id)
        if self.roles is None or resource.roles is None:
            return (await self._update(current, resource)).user
        wanted = await self.roles.resolve_entries(resource.roles)
        if echoed_groups is not None and set(wanted) == echoed_groups:
            note_quirk("roles_echoed")
            return (await self._update(current, resource)).user
        change = RoleChange()
        change.fold("replace", wanted)
        await self.roles.keep_admins(current, change.final(current.group_ids))
        updated = await self._update(current, resource)
        return await self._put_roles(current, updated, read_at, change)

    async def _put_roles(
        self, current: DirectoryUser, updated: _Updated, read_at: float, change: RoleChange
    ) -> DirectoryUser:
        """Write the roles after the rest of the user: see :meth:`patch_on_current`.

        Only a user this request deleted has no groups left to write; one already disabled
        upstream (created inactive, or disabled in TelemetryTV) still gets its roles.
        """
        assert self.roles is not None
        if updated.deleted:
            return updated.user
        return await self.roles.put_in_place(
            updated.user, read_at, change, profile_applied=updated.user is not current
        )

    async def patch(
        self, user_id: str, patch: PatchOp[User] | None, role_patch: PatchOp[User] | None = None
    ) -> DirectoryUser:
        """Apply a PatchOp: straight to the write when it needs no read, else on a copy.

        A PATCH replacing plain attributes (``active``, names, the email, the password)
        and touching no role is one upstream write, whose answer is the user returned; see
        :mod:`~scim_proxy.translation.direct_user_patch`.
        """
        if patch is not None and role_patch is None:
            deletes = self.settings.users.deactivation is Deactivation.delete
            changes = direct_changes(patch, deactivation_deletes=deletes)
            if changes is not None:
                with upstream_errors("User", user_id):
                    return await self.session.update_user(user_id, changes)
        return await self.patch_on_current(user_id, patch, role_patch)

    async def patch_on_current(
        self, user_id: str, patch: PatchOp[User] | None, role_patch: PatchOp[User] | None = None
    ) -> DirectoryUser:
        """Apply a PatchOp on a copy of the user as read, then one upstream update.

        ``role_patch`` holds the ``roles`` operations, written as group memberships after
        the update. ``None`` for both (nothing left to change) still reads the user, so an
        unknown id is 404.

        The order keeps every refusal ahead of every write: roles are resolved and the
        Admin guard checked, then the profile is written (the part TelemetryTV refuses for
        good: a taken email, an invalid value), then the memberships (whose failures are
        transient and converge when the request is sent again). The two are separate
        upstream writes, so the memberships can fail after the profile was written: the
        error then says so, and how many role changes are in place.
        """
        read_at = time.monotonic()
        with upstream_errors("User", user_id):
            current = await self.session.get_user(user_id)
        change = None
        if self.roles is not None and role_patch is not None:
            change = await self.roles.change(role_steps(role_patch))
            await self.roles.keep_admins(current, change.final(current.group_ids))
        if patch is None:
            if change is None:
                return current
            return await self._put_roles(current, _Updated(current), read_at, change)
        resource = self._resource(current)
        try:
            # Linear in the operations: each one's cost is bounded, since the values one
            # request may write to a multi-valued attribute are (scim.max_attribute_values).
            await apply_patch_in_slices(patch, resource)
        except SCIMException as exc:
            raise ScimError.from_scim_exception(
                exc, what="A PATCH operation's value", reason="invalid_patch"
            ) from exc
        except ValidationError as exc:
            raise ScimError.from_validation_error(
                exc, what="A PATCH operation's value", reason="invalid_patch"
            ) from exc
        # A user already disabled upstream reads as inactive; only a PATCH that sets
        # ``active`` itself deactivates (and, in delete mode, deletes) it.
        updated = await self._update(
            current, resource, may_delete=not current.disabled or sets_active(patch)
        )
        if change is None:
            return updated.user
        return await self._put_roles(current, updated, read_at, change)

    async def _update(
        self, current: DirectoryUser, wanted: User, *, may_delete: bool = True
    ) -> _Updated:
        """Write what ``wanted`` changes of ``current``: one update, a deletion, or nothing."""
        update = user_update(current, wanted)
        if update.ignored_username_change:
            note_quirk("username_change_ignored")
            log.warning(
                "username_change_ignored",
                user_id=current.id,
                reason="TelemetryTV's login is the email; change emails to change it",
            )
        deletes = self.settings.users.deactivation is Deactivation.delete
        with upstream_errors("User", current.id):
            if update.deactivate and deletes and may_delete:
                await self.session.delete_user(current.id)
                return _Updated(msgspec.structs.replace(current, disabled=True), deleted=True)
            if update.changes.is_empty():
                return _Updated(current)
            return _Updated(await self.session.update_user(current.id, update.changes))

    async def delete(self, user_id: str) -> None:
        """Delete the user."""
        with upstream_errors("User", user_id):
            await self.session.delete_user(user_id)
