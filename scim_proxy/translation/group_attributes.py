"""SCIM Group <-> directory group and its members.

=====================  ===================================================================
SCIM attribute         directory
=====================  ===================================================================
id                     group id
displayName            group name
members[].value        id of each user whose group list holds the group
members[].display      that user's displayName (given and family name, else the email)
members[].type         ``User``
members[].$ref         the user's SCIM location
meta                   created, last_modified; location from the public base URL
=====================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scim2_models import Meta

from ..directory import DirectoryGroup, DirectoryUser
from ..scim import render as scim_render
from ..scim.models import GROUP_SCHEMA, Group, Member
from .user_attributes import display_name


def member_entry(user: DirectoryUser, base_url: str) -> Member:
    """The ``members`` entry of one user."""
    return Member(
        value=user.id, ref=f"{base_url}/Users/{user.id}", type="User", display=display_name(user)
    )


def group_resource(
    group: DirectoryGroup, members: Sequence[DirectoryUser] | None, base_url: str
) -> Group:
    """The SCIM Group; ``members`` is ``None`` when they were not fetched."""
    return Group.model_construct(
        schemas=[GROUP_SCHEMA],
        id=group.id,
        display_name=group.name,
        members=[member_entry(u, base_url) for u in members] if members else None,
        meta=Meta.model_construct(
            resource_type="Group",
            created=group.created,
            last_modified=group.last_modified,
            location=f"{base_url}/Groups/{group.id}",
        ),
    )


def group_document(
    group: DirectoryGroup, members: Sequence[DirectoryUser] | None, base_url: str
) -> dict[str, Any]:
    """The JSON a response carries for a group: what :func:`group_resource` dumps to.

    Built without models: a group of 1,000 members would otherwise build 1,000 of them.
    """
    return scim_render.group_document(
        id=group.id,
        display_name=group.name,
        members=[(u.id, display_name(u)) for u in members or ()],
        base_url=base_url,
        created=group.created,
        last_modified=group.last_modified,
    )


def member_ids(resource: Group) -> list[str]:
    """The user ids a Group payload lists as members, in order, without repeats."""
    seen: dict[str, None] = {}
    for member in resource.members or []:
        if member.value:
            seen.setdefault(member.value, None)
    return list(seen)
