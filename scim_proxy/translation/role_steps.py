"""The ``roles`` operations of a User PATCH (and the ``roles`` of a POST or PUT) as steps.

A role is named by a *reference*: a group id (Okta sends the role's ``id``), or a group
name (Entra sends the app role's ``value``, which operators set to the group name). The
steps keep the references as sent; :mod:`roles` resolves them all with one group
listing and then folds the steps, in order, into the user's new group list.

Shapes read (docs/idp-requests.md §7):

- ``add`` / ``replace`` / ``remove`` on ``roles`` with a list of ``{"value": ...}``
  (Okta; Entra's ``AppRoleAssignmentsComplex``, whose ``primary`` is a string boolean and
  is ignored); ``remove`` without a value removes every role.
- ``remove`` (or ``replace``) through ``roles[value eq "..."]`` (or ``display eq``, and
  ``or`` of those).
- Entra's ``SingleAppRoleAssignment``: ``roles[primary eq "True"].value`` with the role as
  a string; the user's one role becomes that role. Its ``.display`` and ``.type`` are
  derived here and ignored.
- Entra's PATCH without the ``aadOptscim062020`` flag: a ``value`` that is itself a JSON
  string ``{"id": ..., "value": <app role value>, "displayName": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scim2_models import PatchOp, PatchOperation
from scim2_models.path.expressions import (
    CompareOperator,
    Comparison,
    FilterNode,
)

from ..ops.context import note_quirk
from ..scim.errors import ScimError, invalid_value
from ..scim.filters import equality_values
from ..scim.models import User

StepKind = Literal["add", "remove", "replace"]


@dataclass(frozen=True, slots=True)
class RoleStep:
    """One step: add these roles, remove them, or make them the user's only roles."""

    kind: StepKind
    refs: tuple[str, ...]


def _ref(item: Any) -> str:
    """The group a role entry names: its ``value`` (else ``display``), unwrapped."""
    ref = item
    if isinstance(item, dict):
        ref = item.get("value") if item.get("value") not in (None, "") else item.get("display")
    if isinstance(ref, str) and ref.lstrip().startswith("{"):
        ref = _unwrapped(ref)
    if not isinstance(ref, str) or not ref.strip():
        raise invalid_value(
            'Each role must be an object with a string "value": the TelemetryTV group id, '
            "or the group's exact name",
            "invalid_role",
        )
    return ref


def _unwrapped(text: str) -> Any:
    """Entra's app role assignment sent as a JSON string: the app role's value."""
    try:
        inner = json.loads(text)
    except ValueError:
        return text  # a group whose name starts with "{"
    if not isinstance(inner, dict):
        return text
    note_quirk("role_value_json_string")
    return inner.get("value") or inner.get("displayName")


def role_refs(value: Any) -> tuple[str, ...]:
    """The references of a ``roles`` value: a list of entries, or one entry."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_ref(item) for item in items)


def _selected(node: FilterNode) -> list[str] | None:
    """The roles a filter names exactly: ``value eq`` / ``display eq`` terms joined by ``or``."""
    return equality_values(node, ("value", "display"))


def _is_primary_filter(node: FilterNode) -> bool:
    return (
        isinstance(node, Comparison)
        and node.attr_path.attr.lower() == "primary"
        and node.op is CompareOperator.eq
        and str(node.value).lower() == "true"
    )


def role_steps(patch: PatchOp[User] | None) -> list[RoleStep]:
    """The steps of the ``roles`` operations of a PATCH (see :func:`split_role_operations`)."""
    steps: list[RoleStep] = []
    for operation in (patch.operations or []) if patch else []:
        steps += _steps(operation)
    return steps


def _steps(operation: PatchOperation[User]) -> list[RoleStep]:
    op = operation.op.value
    path = operation.path
    parts = path.parts if path is not None else ()
    sub_attr = parts[1].lower() if len(parts) > 1 else None
    value_filter = path.value_filter if path is not None else None
    if value_filter is None:
        if sub_attr is not None:
            raise ScimError(
                400,
                'Roles are added, removed or replaced as whole entries ({"value": "<group id '
                'or name>"}), or through roles[value eq "..."]',
                "invalidPath",
                reason="unsupported_patch",
            )
        if op == "remove":
            # Entra sends a value array to remove; without one, every role goes.
            refs = role_refs(operation.value)
            return [RoleStep("remove", refs)] if refs else [RoleStep("replace", ())]
        return [RoleStep("add" if op == "add" else "replace", role_refs(operation.value))]
    if _is_primary_filter(value_filter):
        # SingleAppRoleAssignment: the user's one role. Only its value is stored.
        if sub_attr in ("display", "type", "primary"):
            note_quirk("role_sub_attribute_ignored")
            return []
        if op == "remove":
            return [RoleStep("replace", ())]
        return [RoleStep("replace", role_refs(operation.value))]
    selected = _selected(value_filter)
    if selected is None:
        raise ScimError(
            400,
            'Roles can only be selected with value eq "<group id or name>" (or display eq, '
            'or of those), or primary eq "True"',
            "invalidFilter",
            reason="unsupported_patch",
        )
    if op == "remove":
        return [RoleStep("remove", tuple(selected))]
    if sub_attr not in (None, "value"):
        note_quirk("role_sub_attribute_ignored")
        return []
    # Replacing selected roles: they go, and the role(s) given come in their place.
    return [RoleStep("remove", tuple(selected)), RoleStep("add", role_refs(operation.value))]


@dataclass
class RoleChange:
    """Role steps folded, in order, into "in", "out", or "exactly these" (group ids)."""

    exact: dict[str, None] | None = None
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    def fold(self, kind: str, ids: Sequence[str]) -> None:
        """Apply one step."""
        if kind == "replace":
            self.exact = dict.fromkeys(ids)
            self.add.clear()
            self.remove.clear()
            return
        for group_id in ids:
            if self.exact is not None:
                if kind == "add":
                    self.exact[group_id] = None
                else:
                    self.exact.pop(group_id, None)
            elif kind == "add":
                self.remove.pop(group_id, None)
                self.add[group_id] = None
            else:
                self.add.pop(group_id, None)
                self.remove[group_id] = None

    def final(self, held: Sequence[str]) -> list[str]:
        """The group list once the change is in place."""
        if self.exact is not None:
            return list(self.exact)
        return [g for g in held if g not in self.remove] + [g for g in self.add if g not in held]
