"""TelemetryTV user groups as SCIM roles: ``/Roles``, and users' ``roles`` read and written.

A role *is* a group membership: ``roles`` and ``groups`` are two views of the user's
``user_group_ids``. Okta Identity Governance lists the roles from ``/Roles`` and grants
them per user; Entra provisions app role assignments as ``roles``. Writes go through
:func:`write_user_groups`, the one place a role change reaches the membership path.

Upstream calls (docs/architecture.md): reading roles costs at most one group listing per
request (``ceil(g/page_size)`` calls), usually none (:mod:`role_names`); a role write
lists the groups afresh (to resolve names and refuse unknown roles before writing
anything), reads the Admin group's members when it would remove someone from Admin,
then writes each changed group as a group push does (write, settle, verify), and reads
the user back once (also when the write failed: to say how much of it is in place).

A read whose names cannot be listed still succeeds: its roles show the names last
listed, or only their ``value`` (event ``role_names_unavailable``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any

import structlog
from scim2_models import Context, Meta, ResponseParameters

from ..directory import DirectoryGroup, DirectoryUser
from ..scim.errors import ScimError, invalid_value
from ..scim.models import ROLE_SCHEMA, Role
from ..scim.params import ListQuery
from ..scim.render import dump_resource
from ..telemetrytv.client import TelemetryTVSession
from ..telemetrytv.errors import UpstreamError
from .errors import upstream_cause
from .groups import GroupProvisioning
from .memberships import MembershipIncomplete, MembershipWriter, Snapshot
from .role_names import GroupNames
from .role_steps import RoleChange, RoleStep, role_refs
from .users import upstream_errors

log = structlog.get_logger("scim_proxy.roles")


def role_description(group: DirectoryGroup) -> str:
    """What granting the role gives, for Okta's Governance tab."""
    if group.built_in:
        return (
            "TelemetryTV's built-in Admin user group: full access to the whole account. "
            "Its last member cannot be removed."
        )
    return (
        f"TelemetryTV user group {group.name!r}: its members get the apps, folders, "
        "playlists and devices the group gives access to."
    )


def role_document(
    group: DirectoryGroup, base_url: str, params: ResponseParameters[Any] | None, context: Context
) -> dict[str, Any]:
    """A ``/Roles`` resource: the group's id, name and a description."""
    resource = Role.model_construct(
        schemas=[ROLE_SCHEMA],
        id=group.id,
        display_name=group.name,
        description=role_description(group),
        meta=Meta.model_construct(
            resource_type="Role",
            created=group.created,
            last_modified=group.last_modified,
            location=f"{base_url}/Roles/{group.id}",
        ),
    )
    return dump_resource(resource, params, context=context)


class RoleListing:
    """``/Roles`` reads: the groups, as :class:`GroupProvisioning` lists them, without members."""

    def __init__(self, groups: GroupProvisioning) -> None:
        self.groups = groups

    async def search(self, query: ListQuery) -> tuple[list[DirectoryGroup], int]:
        """One page of roles (``displayName eq`` and ``id eq`` filters are lookups)."""
        views, total = await self.groups.search(query, with_members=False)
        return [view.group for view in views], total

    async def get(self, group_id: str) -> DirectoryGroup:
        """The role (group) with this id."""
        with upstream_errors("Role", group_id):
            return await self.groups.session.get_group(group_id)


async def write_user_groups(
    writer: MembershipWriter,
    user_id: str,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    exactly: Collection[str] | None = None,
    known: Mapping[str, Snapshot] | None = None,
) -> DirectoryUser:
    """Put one user's group list in place: ``add`` in, ``remove`` out, or ``exactly`` these.

    Every role write goes through here, onto the coordinated primitive group push uses
    (:meth:`MembershipWriter.change_user`: a per-user lock in Redis or this process around
    the read and the write, or write-then-verify), so a role change and a push touching
    the same user at once lose nothing. Raises a :class:`ScimError` when a change cannot
    be put in place.
    """
    with upstream_errors("User", user_id):
        return await writer.change_user(
            user_id,
            add=tuple(add),
            remove=tuple(remove),
            exactly=exactly,
            known=(known or {}).get(user_id),
        )


class UserRoles:
    """Users' ``roles`` for one request: names for reads, resolution and writes."""

    def __init__(
        self,
        session: TelemetryTVSession,
        names: GroupNames,
        token_key: str,
        writer: MembershipWriter,
    ) -> None:
        self.session = session
        self.names = names
        self.token_key = token_key
        self.writer = writer
        self._listed: Mapping[str, str] | None = None
        """The names this request listed, if it did (so it never lists twice)."""
        self._built_in: dict[str, DirectoryGroup] = {}

    async def names_for(self, users: Sequence[DirectoryUser]) -> Mapping[str, str]:
        """Group names for the ``display`` of these users' roles (usually no upstream call).

        Never fails the read for want of names: when the listing fails, the names last
        listed for the token are shown, however old, and a group missing from them shows
        only its ``value``.
        """
        wanted = {g for user in users for g in user.group_ids}
        if self._listed is not None and wanted <= self._listed.keys():
            return self._listed
        try:
            return await self.names.names(self.session, self.token_key, wanted)
        except UpstreamError as exc:
            kept = self.names.kept(self.token_key)
            log.warning(
                "role_names_unavailable",
                reason=type(exc).__name__,
                groups=len(wanted),
                named=len(wanted & kept.keys()),
            )
            return kept

    async def _groups(self) -> list[DirectoryGroup]:
        """Every group, listed afresh (a write must not trust a kept listing)."""
        with upstream_errors("Role"):
            groups = await self.session.walk_groups(self.names.page_size)
        self._listed = self.names.remember(self.token_key, groups)
        self._built_in = {g.id: g for g in groups if g.built_in}
        return groups

    async def resolve_entries(self, roles: Sequence[Any]) -> list[str]:
        """Group ids of a POST's or PUT's ``roles``; 400 naming any unknown role."""
        refs = role_refs([r.model_dump() if hasattr(r, "model_dump") else r for r in roles])
        resolved = _Resolver(await self._groups())
        return list(dict.fromkeys(resolved.existing(refs)))

    async def change(self, steps: Sequence[RoleStep]) -> RoleChange:
        """Resolve PATCH steps (one listing) and fold them; 400 naming any unknown role.

        Removing a role no group answers to does nothing: it is not held, which is what
        the removal asks for (a group deleted in TelemetryTV stays removable in the IdP).
        """
        resolved = _Resolver(await self._groups())
        change = RoleChange()
        for step in steps:
            if step.kind == "remove":
                change.fold("remove", resolved.known(step.refs))
            else:
                change.fold(step.kind, list(dict.fromkeys(resolved.existing(step.refs))))
        return change

    async def keep_admins(self, user: DirectoryUser, final: Collection[str]) -> None:
        """403 when the change would take the built-in Admin group's last member out.

        Called after the roles were resolved, whose listing says which group is Admin.
        """
        leaving = [g for g in user.group_ids if g not in set(final) and g in self._built_in]
        for group_id in leaving:
            group = self._built_in[group_id]
            with upstream_errors("Role", group_id):
                members = await self.session.walk_users(self.names.page_size, group_id=group_id)
            if not [m for m in members if m.id != user.id]:
                raise ScimError(
                    403,
                    f"{group.name!r} is TelemetryTV's built-in Admin group and this user is its "
                    "last member: removing the role would lock every administrator out, so the "
                    "request is refused and nothing was changed. Grant the role to another "
                    "user first.",
                    reason="builtin_admin_group",
                )

    async def put_in_place(
        self,
        user: DirectoryUser,
        read_at: float,
        change: RoleChange,
        *,
        profile_applied: bool = False,
    ) -> DirectoryUser:
        """Write the change through :func:`write_user_groups` (nothing to write: no call).

        Callers check :meth:`keep_admins` first, before writing anything else, and write
        the rest of the user (``profile_applied``: something was) before the roles. When
        the roles cannot all be put in place, the error says what is: the profile, and
        how many of the role changes (:meth:`_incomplete`).
        """
        final = change.final(user.group_ids)
        if set(final) == set(user.group_ids):
            return user
        known = {user.id: Snapshot(user, read_at)}
        try:
            if change.exact is not None:
                return await write_user_groups(
                    self.writer, user.id, exactly=list(change.exact), known=known
                )
            return await write_user_groups(
                self.writer, user.id, add=list(change.add), remove=list(change.remove), known=known
            )
        except ScimError as error:
            raise await self._incomplete(user, final, error, profile_applied) from error

    async def _incomplete(
        self, user: DirectoryUser, final: Sequence[str], error: ScimError, profile_applied: bool
    ) -> ScimError:
        """The error for a role write that failed, saying truthfully what is in place.

        The writer's own count is per group written; the admin needs the whole request's,
        so the user is read back once (not when TelemetryTV asked us to wait).
        """
        adding = [g for g in final if g not in user.group_ids]
        removing = [g for g in user.group_ids if g not in set(final)]
        total = len(adding) + len(removing)
        held: set[str] | None = None
        if error.status != 429:
            with suppress(UpstreamError):
                held = set((await self.session.get_user(user.id)).group_ids)
        what = "the role changes" if profile_applied else "The role changes"
        if held is None:
            state = f"may not all be in place, and which of the {total} are could not be checked"
        else:
            done = sum(g in held for g in adding) + sum(g not in held for g in removing)
            state = f"are not all in place: {done} of {total} are, {total - done} not"
        applied = "The profile changes were applied, but " if profile_applied else ""
        wait = error.headers.get("Retry-After")
        again = f" after {wait} seconds" if wait and error.status == 429 else ""
        return MembershipIncomplete(
            error.status,
            f"{applied}{what} (TelemetryTV group memberships) {state}, because "
            f"{_reason(error)}; send the request again{again} to finish, it converges",
            error.scim_type,
            headers=error.headers,
            reason=error.reason,
        )


def _reason(error: ScimError) -> str:
    """Why a membership write failed: TelemetryTV's failure, else the writer's own words."""
    cause = error.__cause__
    if isinstance(cause, UpstreamError):
        return upstream_cause(cause, resource="User")
    if isinstance(error, MembershipIncomplete):
        return "concurrent changes kept undoing them"
    return error.detail[:1].lower() + error.detail[1:].rstrip(".")


class _Resolver:
    """Role references (a group id, else an exact group name) -> group ids."""

    def __init__(self, groups: Sequence[DirectoryGroup]) -> None:
        self.by_id = {g.id: g for g in groups}
        self.by_name: dict[str, list[str]] = {}
        for group in groups:
            self.by_name.setdefault(group.name, []).append(group.id)

    def _one(self, ref: str) -> str | None:
        if ref in self.by_id:
            return ref
        matches = self.by_name.get(ref, [])
        if len(matches) > 1:
            raise invalid_value(
                f"Role {ref[:100]!r} matches {len(matches)} TelemetryTV user groups of that "
                "name: send the group id as the role value (GET /Roles lists them), or "
                "rename one of the groups.",
                "ambiguous_role",
            )
        return matches[0] if matches else None

    def known(self, refs: Iterable[str]) -> list[str]:
        """The ids of the references that name a group; others are skipped."""
        return [g for g in (self._one(r) for r in refs) if g is not None]

    def existing(self, refs: Iterable[str]) -> list[str]:
        """The ids of the references; 400 naming every one that names no group."""
        refs = list(refs)
        unknown = [r for r in dict.fromkeys(refs) if self._one(r) is None]
        if unknown:
            shown = ", ".join(repr(r[:100]) for r in unknown[:10])
            raise invalid_value(
                f"Unknown role(s) {shown}: no TelemetryTV user group has that id or exact "
                "name. In Entra, set each app role's value to a TelemetryTV group name; in "
                "Okta, import the roles again (GET /Roles lists them). Nothing was changed.",
                "unknown_role",
            )
        return [g for g in (self._one(r) for r in refs) if g is not None]


__all__ = [
    "RoleChange",
    "RoleListing",
    "UserRoles",
    "role_description",
    "role_document",
    "write_user_groups",
]
