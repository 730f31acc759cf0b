"""Separating the ``roles`` operations of a User PATCH from the rest.

Roles are TelemetryTV group memberships, written through the membership path, not
applied to a copy of the user like the profile attributes: a role named by its group
*name* (Entra's app role value) would never match the ``value`` (a group id) a copy holds,
so a ``roles[value eq "Sales"]`` removal would silently do nothing. The role operations
are taken out of the body here, before scim2-models applies the others.
"""

from __future__ import annotations

from typing import Any

from .models import PATCH_OP_SCHEMA, USER_SCHEMA


def _is_roles(path: str) -> bool:
    """Whether a PATCH path or pathless key targets ``roles`` (``roles``, ``roles[...]``...)."""
    lowered = path.strip().lower().removeprefix(USER_SCHEMA.lower() + ":")
    return lowered.split("[", 1)[0].split(".", 1)[0].strip() == "roles"


def split_role_operations(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The body without its ``roles`` operations, and a PatchOp body holding just those.

    A pathless operation whose value carries ``roles`` (or a key such as
    ``roles[primary eq "True"].value``) keeps its other keys; each roles key becomes an
    operation of its own with that key as its path. ``None``: no operation names roles.
    """
    operations = body.get("Operations")
    if not isinstance(operations, list):
        return body, None
    kept: list[Any] = []
    taken: list[dict[str, Any]] = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = operation.get("path")
        value = operation.get("value")
        if isinstance(path, str) and _is_roles(path):
            taken.append(operation)
        elif path is None and isinstance(value, dict):
            roles = {k: v for k, v in value.items() if isinstance(k, str) and _is_roles(k)}
            if not roles:
                kept.append(operation)
                continue
            rest = {k: v for k, v in value.items() if k not in roles}
            if rest:
                kept.append({**operation, "value": rest})
            taken += [{**operation, "path": k, "value": v} for k, v in roles.items()]
        else:
            kept.append(operation)
    if not taken:
        return body, None
    return {**body, "Operations": kept}, {"schemas": [PATCH_OP_SCHEMA], "Operations": taken}


def without_roles(body: dict[str, Any]) -> dict[str, Any]:
    """A POST or PUT body without ``roles`` (roles disabled: dropped like unknown keys)."""
    return {k: v for k, v in body.items() if not (isinstance(k, str) and _is_roles(k))}


def echoed_group_ids(body: dict[str, Any]) -> frozenset[str] | None:
    """The group ids a PUT body's read-only ``groups`` carries; ``None`` when it has none.

    Okta's App Integration Wizard apps PUT back the whole user their GET returned, so a
    PUT whose ``roles`` are exactly its ``groups`` only echoes what the client read.
    """
    groups = next(
        (v for k, v in body.items() if isinstance(k, str) and k.lower() == "groups"), None
    )
    if not isinstance(groups, list) or not groups:
        return None
    ids = [g.get("value") for g in groups if isinstance(g, dict)]
    if not all(isinstance(i, str) for i in ids) or len(ids) != len(groups):
        return None
    return frozenset(i for i in ids if isinstance(i, str))
