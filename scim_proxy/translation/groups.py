"""The SCIM Groups resource, carried out on TelemetryTV user groups.

Upstream calls (k = members, p = ``upstream.page_size``; docs/architecture.md):
a read is 1 call, plus ``ceil((k+1)/p)`` to list members unless ``members`` is excluded;
a membership change of k users costs 2k calls in ``redis`` and ``process`` coordination
(the validating reads are the reads the writes start from), 3k to 4k calls plus a settle
wait in ``verify`` (:mod:`memberships`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scim2_models import Context, PatchOp, ResponseParameters

from ..directory import DirectoryGroup, DirectoryUser
from ..ops.config import Settings
from ..scim.errors import ScimError
from ..scim.filters import equality_lookups, parse_filter
from ..scim.models import GROUP_SCHEMA, Group
from ..scim.params import ListQuery, returns_attribute
from ..scim.render import dump_resource
from ..telemetrytv.client import TelemetryTVSession, TooLarge
from ..telemetrytv.errors import NotFound
from .group_attributes import group_document, group_resource, member_ids
from .group_patch import group_change
from .memberships import Coordinator, MembershipWriter, bounded
from .paging import scim_page
from .users import MAX_LOOKUPS, upstream_errors

GROUP_FILTER_ATTRIBUTES = {
    name.lower(): name for name in ("id", "displayName", "meta.created", "meta.lastModified")
}
"""Attributes a Groups filter may name (lower-cased path -> spelling)."""

GROUP_LOOKUP_KEYS = {"id": "id", "displayname": "name"}


def wants_members(params: ResponseParameters[Group] | None) -> bool:
    """Whether a response must carry ``members`` (Entra excludes them on reads)."""
    return returns_attribute(params, "members")


def _builtin_refusal(group: DirectoryGroup, action: str) -> ScimError:
    return ScimError(
        403,
        f"{group.name!r} is TelemetryTV's built-in Admin group: it cannot be {action} through "
        "SCIM. Its membership can be managed; in Okta, push it from a group of the same name "
        "or link it without renaming.",
        reason="builtin_admin_group",
    )


def _keep_admins(group: DirectoryGroup, final_members: set[str]) -> None:
    """Refuse to leave the built-in Admin group empty: that would lock every admin out."""
    if group.built_in and not final_members:
        raise ScimError(
            403,
            f"{group.name!r} is TelemetryTV's built-in Admin group: a change that leaves it "
            "with no members would lock every administrator out, so it is refused.",
            reason="builtin_admin_group",
        )


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group and, when they were fetched, its members."""

    group: DirectoryGroup
    members: Sequence[DirectoryUser] | None


class GroupProvisioning:
    """SCIM Group operations for one inbound request."""

    def __init__(
        self,
        session: TelemetryTVSession,
        settings: Settings,
        base_url: str,
        coordinator: Coordinator,
    ) -> None:
        self.session = session
        self.settings = settings
        self.base_url = base_url
        self.members = MembershipWriter(session, settings.groups, coordinator)

    async def _members_of(self, group_id: str) -> list[DirectoryUser]:
        return await self.session.walk_users(self.settings.upstream.page_size, group_id=group_id)

    def document(
        self, view: GroupView, params: ResponseParameters[Any] | None, context: Context
    ) -> dict[str, Any]:
        """The group's JSON in a response: built directly unless attributes are selected."""
        if params is None:
            return group_document(view.group, view.members, self.base_url)
        resource = group_resource(view.group, view.members, self.base_url)
        return dump_resource(resource, params, context=context)

    def location(self, view: GroupView) -> str:
        """The group's SCIM URL."""
        return f"{self.base_url}/Groups/{view.group.id}"

    async def _resource(self, group: DirectoryGroup, with_members: bool) -> GroupView:
        members = await self._members_of(group.id) if with_members else None
        return GroupView(group, members)

    async def _resources(
        self, groups: Sequence[DirectoryGroup], with_members: bool
    ) -> list[GroupView]:
        if not with_members:
            return [GroupView(g, None) for g in groups]
        listed = await bounded(
            [g.id for g in groups], self._members_of, self.settings.groups.member_concurrency
        )
        resources = []
        for group in groups:
            members = listed[group.id]
            if isinstance(members, BaseException):
                raise members
            resources.append(GroupView(group, members))
        return resources

    async def get(self, group_id: str, *, with_members: bool = True) -> GroupView:
        """The group with this id, with its members unless left out."""
        with upstream_errors("Group", group_id):
            return await self._resource(await self.session.get_group(group_id), with_members)

    async def search(
        self, query: ListQuery, *, with_members: bool = True
    ) -> tuple[list[GroupView], int]:
        """One page of the groups matching the query, and how many match in all."""
        with upstream_errors("Group"):
            if query.filter is None:
                groups, total = await self._page(query)
            else:
                matched = await self._filtered(query.filter)
                start = query.start_index - 1
                groups, total = matched[start : start + query.count], len(matched)
            return await self._resources(groups, with_members), total

    async def _page(self, query: ListQuery) -> tuple[list[DirectoryGroup], int]:
        return await scim_page(self.session.list_groups, query.start_index, query.count)

    async def _filtered(self, text: str) -> list[DirectoryGroup]:
        parsed = parse_filter(
            Group,
            text,
            allowed=GROUP_FILTER_ATTRIBUTES,
            max_or_terms=self.settings.scim.max_filter_or_terms,
        )
        lookups = equality_lookups(parsed.ast, GROUP_LOOKUP_KEYS, GROUP_SCHEMA)
        if lookups is not None and len(lookups) > MAX_LOOKUPS:
            lookups = None  # cheaper, and bounded, as one scan of the listing (as for users)
        candidates: dict[str, DirectoryGroup] = {}
        if lookups is None:
            for group in await self._all_groups():
                candidates[group.id] = group
        else:
            for kind, value in lookups:
                found = await self._lookup(kind, value)
                if found is not None:
                    candidates[found.id] = found
        ordered = [candidates[k] for k in sorted(candidates)]
        return [g for g in ordered if parsed.match(group_resource(g, None, self.base_url))]

    async def _lookup(self, kind: str, value: str) -> DirectoryGroup | None:
        if kind == "name":
            return await self.session.find_group_by_name(value)
        try:
            return await self.session.get_group(value)
        except NotFound:
            return None

    async def _all_groups(self) -> list[DirectoryGroup]:
        limit = self.settings.scim.filter_scan_limit
        try:
            return await self.session.walk_groups(self.settings.upstream.page_size, limit=limit)
        except TooLarge as exc:
            raise ScimError(
                400,
                f"This filter can only be evaluated over at most {limit} groups; "
                "filter with displayName eq or id eq instead.",
                "tooMany",
                reason="filter_scan_limit",
            ) from exc

    async def create(self, resource: Group) -> GroupView:
        """Create the group, then add its members (validated first)."""
        name = resource.display_name or ""
        if not name.strip():
            raise ScimError(
                400, "displayName is required", "invalidValue", reason="display_name_required"
            )
        add = member_ids(resource)
        try:
            with upstream_errors("Group"):
                known = await self.members.validate(add)
                group = await self.session.create_group(name)
            try:
                with upstream_errors("Group", group.id):
                    await self.members.apply(group.id, add, known=known)
            except ScimError as exc:
                raise ScimError(
                    exc.status,
                    f"The group was created (id {group.id}) but not all its members were "
                    f"added: {exc.detail}",
                    exc.scim_type,
                    headers=exc.headers,
                    reason=exc.reason,
                ) from exc
        finally:
            # In redis mode validating takes the members' locks: never leave one held.
            await self.members.release_held()
        if all(u in known for u in add):
            return GroupView(group, [known[u].user for u in add])
        with upstream_errors("Group", group.id):
            return GroupView(group, await self._members_of(group.id))

    async def replace(self, group_id: str, resource: Group) -> GroupView:
        """PUT: rename if the name differs, and make the member list exactly the one sent."""
        wanted_name = resource.display_name or ""
        if not wanted_name.strip():
            raise ScimError(
                400, "displayName is required", "invalidValue", reason="display_name_required"
            )
        wanted = member_ids(resource)
        with upstream_errors("Group", group_id):
            group = await self.session.get_group(group_id)
            current = {u.id: u for u in await self._members_of(group_id)}
            add = [u for u in wanted if u not in current]
            remove = [u for u in current if u not in set(wanted)]
            _keep_admins(group, set(wanted))
            try:
                known = await self.members.validate(add)
                group = await self._rename(group, wanted_name)
                await self.members.apply(group_id, add, remove, known=known)
            finally:
                await self.members.release_held()
        if all(u in current or u in known for u in wanted):
            return GroupView(group, [current[u] if u in current else known[u].user for u in wanted])
        # Some members were read again while being written (a transient failure when
        # validating): list the group as it now stands.
        with upstream_errors("Group", group_id):
            return GroupView(group, await self._members_of(group_id))

    async def patch(self, group_id: str, patch: PatchOp[Group] | None) -> DirectoryGroup:
        """Apply a PatchOp: a rename and membership changes; returns the group record."""
        change = group_change(patch)
        with upstream_errors("Group", group_id):
            group = await self.session.get_group(group_id)
            add: Iterable[str] = change.add
            remove: Iterable[str] = change.remove
            if change.exact is not None or group.built_in:
                current = {u.id for u in await self._members_of(group_id)}
                final = (
                    set(change.exact)
                    if change.exact is not None
                    else (current | set(change.add)) - set(change.remove)
                )
                _keep_admins(group, final)
                add = [u for u in final if u not in current]
                remove = [u for u in current if u not in final]
            add = list(add)
            try:
                known = await self.members.validate(add)
                if change.rename is not None:
                    group = await self._rename(group, change.rename)
                await self.members.apply(group_id, add, remove, known=known)
            finally:
                await self.members.release_held()
        return group

    async def _rename(self, group: DirectoryGroup, name: str) -> DirectoryGroup:
        if name == group.name:
            return group
        if group.built_in:
            raise _builtin_refusal(group, "renamed")
        return await self.session.rename_group(group.id, name)

    async def delete(self, group_id: str) -> None:
        """Delete the group; TelemetryTV drops it from every member's group list."""
        with upstream_errors("Group", group_id):
            group = await self.session.get_group(group_id)
            if group.built_in:
                raise _builtin_refusal(group, "deleted")
            await self.session.delete_group(group_id)


__all__ = ["GroupProvisioning", "wants_members"]
