"""A Group PatchOp as membership deltas and a rename.

A group PATCH is not applied to a copy of the whole group (that would mean reading every
member first): each operation becomes "rename to", "these users in", "these users out"
or "exactly these users", the shapes Okta and Entra send (docs/idp-requests.md §1.11,
§1.12, §4). Only replacing the member list or removing all members needs the current
members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scim2_models import PatchOp, PatchOperation
from scim2_models.path.expressions import (
    FilterNode,
)

from ..scim.errors import ScimError, invalid_value
from ..scim.filters import equality_values
from ..scim.models import GROUP_SCHEMA, Group


@dataclass
class GroupChange:
    """What a Group PATCH asks for, operations applied in order."""

    rename: str | None = None
    exact: set[str] | None = None
    """The whole member list, when an operation replaced it (or removed everyone)."""
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    def adding(self, ids: list[str]) -> None:
        """Record ``ids`` as members."""
        for user_id in ids:
            if self.exact is not None:
                self.exact.add(user_id)
            else:
                self.remove.pop(user_id, None)
                self.add[user_id] = None

    def removing(self, ids: list[str]) -> None:
        """Record ``ids`` as non-members."""
        for user_id in ids:
            if self.exact is not None:
                self.exact.discard(user_id)
            else:
                self.add.pop(user_id, None)
                self.remove[user_id] = None

    def replacing(self, ids: list[str]) -> None:
        """Record ``ids`` as the whole member list."""
        self.exact = set(ids)
        self.add.clear()
        self.remove.clear()


def _ids(value: Any) -> list[str]:
    """Member ids from a PATCH value: a list of ``{"value": id}`` (or one such object)."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        member = item.get("value") if isinstance(item, dict) else None
        if not isinstance(member, str) or not member:
            raise invalid_value(
                'Each member must be an object with a string "value" (a user id)', "invalid_member"
            )
        ids.append(member)
    return ids


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid_value("displayName must be a non-empty string", "display_name_required")
    return value


def _member_values(node: FilterNode) -> list[str] | None:
    """The ids a member filter selects exactly: ``value eq`` terms joined by ``or``.

    Anything else (an ``and``, another attribute) could select fewer members than its
    equality terms name, so it is refused rather than over-applied.
    """
    return equality_values(node, ("value",))


def _sub_attribute_path() -> ScimError:
    return ScimError(
        400,
        'Members are added, removed or replaced as whole entries ({"value": "<user id>"}); '
        "their sub-attributes cannot be patched on their own",
        "invalidPath",
        reason="unsupported_patch",
    )


def group_change(patch: PatchOp[Group] | None) -> GroupChange:
    """Read the operations of a Group PATCH into one :class:`GroupChange`."""
    change = GroupChange()
    for operation in (patch.operations or []) if patch else []:
        _apply(change, operation)
    return change


def _apply(change: GroupChange, operation: PatchOperation[Group]) -> None:
    op = operation.op.value
    path = operation.path if operation.path is not None and operation.path.parts else None
    if path is None:
        # Pathless: Okta's rename {"id", "displayName"} (id already dropped), or members.
        value = operation.value
        if not isinstance(value, dict):
            raise invalid_value(
                "A PATCH operation without a path needs an object value", "invalid_patch"
            )
        for key, item in value.items():
            name = key.lower().removeprefix(GROUP_SCHEMA.lower() + ":")
            if name == "displayname":
                change.rename = _name(item)
            elif name == "members":
                {"add": change.adding, "replace": change.replacing, "remove": change.removing}[op](
                    _ids(item)
                )
            elif name.startswith("members."):
                raise _sub_attribute_path()
        return
    target = path.parts[0].lower().removeprefix(GROUP_SCHEMA.lower() + ":")
    if target == "displayname":
        if op == "remove":
            raise ScimError(
                400,
                "displayName is required and cannot be removed",
                "mutability",
                reason="display_name_required",
            )
        change.rename = _name(operation.value)
        return
    if target != "members":
        return  # an attribute TelemetryTV groups do not hold (policy already dropped most)
    if len(path.parts) > 1:
        raise _sub_attribute_path()
    if path.value_filter is not None:
        if op != "remove":
            raise ScimError(
                400,
                "Only remove may target members through a filter",
                "invalidPath",
                reason="unsupported_patch",
            )
        selected = _member_values(path.value_filter)
        if selected is None:
            raise ScimError(
                400,
                'Members can only be selected with value eq "<id>" (or of those)',
                "invalidFilter",
                reason="unsupported_patch",
            )
        change.removing(selected)
        return
    if op == "add":
        change.adding(_ids(operation.value))
    elif op == "replace":
        change.replacing(_ids(operation.value) if operation.value is not None else [])
    elif operation.value is None:
        change.replacing([])  # remove without a value: every member goes
    else:
        change.removing(_ids(operation.value))  # Entra: remove with a value array
