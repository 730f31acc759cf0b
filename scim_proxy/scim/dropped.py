"""Attributes a request carries that TelemetryTV cannot store: named in the logs, counted.

TelemetryTV holds an email, two names, a disabled flag, a password and memberships (a
user's ``roles``, a group's ``members``), so ``externalId``, ``title``, the enterprise
extension and the rest are accepted and dropped (scim/models.py). An operator should
see that happen: each request that carries such attributes logs one
``attributes_dropped`` event with their names (never their values) and counts the
``unstorable_attribute_dropped`` quirk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import structlog

from ..ops.context import note_quirk
from .models import GROUP_SCHEMA, USER_SCHEMA

log = structlog.get_logger("scim_proxy.scim")

QUIRK = "unstorable_attribute_dropped"

_STORED = {
    "User": frozenset(
        {
            "username",
            "name",
            "name.givenname",
            "name.familyname",
            "active",
            "password",
            "emails",
            "emails.value",
            "emails.type",
            "emails.primary",
            # Group memberships. With ``[roles] enabled`` off the Users routes take
            # ``roles`` out before reading, reported as ``roles_disabled_ignored`` (once).
            "roles",
            "roles.value",
        }
    ),
    "Group": frozenset({"displayname", "members", "members.value"}),
}
"""Lower-cased attribute paths the proxy carries to TelemetryTV, per resource type."""

_NOT_ATTRIBUTES = frozenset({"schemas", "id", "meta"})
"""Message keys and read-only attributes the server sets, ignored by the RFC's rules."""

_QUIETLY_IGNORED = {
    # ``groups`` is read-only: memberships change through /Groups. A role is its group:
    # ``display`` is the group's name, ``type`` and ``primary`` say nothing TelemetryTV
    # holds; one patched on its own is the ``role_sub_attribute_ignored`` quirk.
    "User": frozenset({"groups", "roles.display", "roles.type", "roles.primary"}),
    "Group": frozenset({"members.$ref", "members.type", "members.display"}),
}
_CORE = {"User": USER_SCHEMA.lower() + ":", "Group": GROUP_SCHEMA.lower() + ":"}
_FILTER = re.compile(r"\[[^\]]*\]")
_MAX_NAMES = 20
_MAX_NAME_LENGTH = 100


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _attribute_names(resource: str, key: str, value: Any) -> Iterable[str]:
    """The unstorable attribute names under one key of a resource body (or PATCH value)."""
    lowered = key.lower()
    if lowered.startswith(_CORE[resource]):
        key, lowered = key[len(_CORE[resource]) :], lowered[len(_CORE[resource]) :]
    elif lowered.startswith("urn:"):
        # An extension: its sub-attributes, or the extension path itself.
        if isinstance(value, dict):
            yield from (f"{key}:{sub}" for sub, item in value.items() if not _empty(item))
        elif not _empty(value):
            yield key
        return
    path = _FILTER.sub("", lowered)
    top = path.split(".", 1)[0]
    if top in _NOT_ATTRIBUTES or path in _QUIETLY_IGNORED[resource] or _empty(value):
        return
    if top in _QUIETLY_IGNORED[resource]:
        return
    stored = _STORED[resource]
    if top not in stored:
        yield _FILTER.sub("", key).split(".", 1)[0]
        return
    if "." in path:
        if path not in stored and path not in _QUIETLY_IGNORED[resource]:
            yield _FILTER.sub("", key)
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            for sub, sub_value in item.items():
                sub_path = f"{top}.{sub.lower()}"
                if (
                    sub_path not in stored
                    and sub_path not in _QUIETLY_IGNORED[resource]
                    and not _empty(sub_value)
                ):
                    yield f"{key}.{sub}"


def unstorable_attributes(resource: str, body: dict[str, Any]) -> list[str]:
    """Names of the attributes in a POST/PUT body (or a PATCH) that cannot be stored."""
    names: dict[str, None] = {}
    operations = body.get("Operations")
    if isinstance(operations, list):
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            path, value = operation.get("path"), operation.get("value")
            # An empty path is no path: scim2-models applies the value to the resource.
            if isinstance(path, str) and path:
                # A remove has no value; what it names is dropped all the same.
                shown = value if value is not None else True
                names.update(dict.fromkeys(_attribute_names(resource, path, shown)))
            elif isinstance(value, dict):
                for key, item in value.items():
                    names.update(dict.fromkeys(_attribute_names(resource, str(key), item)))
    else:
        for key, item in body.items():
            names.update(dict.fromkeys(_attribute_names(resource, str(key), item)))
    return [name[:_MAX_NAME_LENGTH] for name in list(names)[:_MAX_NAMES]]


def note_dropped(resource: str, body: dict[str, Any]) -> None:
    """Log and count the attributes of ``body`` that TelemetryTV cannot store, if any."""
    note_dropped_names(resource, unstorable_attributes(resource, body))


def note_dropped_names(resource: str, names: list[str]) -> None:
    """Log and count ``names``, as :func:`unstorable_attributes` found them, if any."""
    if names:
        note_quirk(QUIRK)
        log.info("attributes_dropped", resource=resource, attributes=names)
