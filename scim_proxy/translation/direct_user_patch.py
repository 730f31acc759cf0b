"""PATCHes that can go straight to the upstream write, without reading the user first.

A PATCH is applied on the user as TelemetryTV holds it (read, apply with scim2-models,
write the difference). Most IdP PATCHes do not need that state: Okta's deactivate
(``replace`` of ``active``), its profile push, Entra's attribute replaces and password
syncs set plain attributes to given values. Their write alone answers with the whole
user, so they cost one upstream call instead of two.

:func:`direct_changes` recognises those PATCHes and turns them into the upstream
changes; for anything else it answers ``None`` and the PATCH keeps the read:
``add`` and ``remove`` operations, other value filters, partial ``name`` objects,
``userName`` changes that do not match the new email, unknown core attributes, values
of the wrong type, and a deactivation when deactivating deletes the user (the answer
then needs the user as it was). Property tests hold the two paths equal
(``tests/translation/test_direct_user_patch_equivalence.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scim2_models import PatchOp

from ..directory import UserChanges
from ..scim.models import USER_SCHEMA, User

_CORE_PREFIX = USER_SCHEMA.lower() + ":"
_WORK_EMAIL = re.compile(r'emails\[\s*(type\s+eq\s+"work"|primary\s+eq\s+true)\s*\]\.value')
"""The value filters that pick the one address TelemetryTV holds (type work, primary)."""


_EMAILS_LISTED = "_emails_listed"
"""Marks, while folding, that an earlier operation replaced the whole ``emails`` list."""


class _NeedsCurrent(Exception):
    """The PATCH cannot be applied without the user's current state."""


def direct_changes(patch: PatchOp[User], *, deactivation_deletes: bool) -> UserChanges | None:
    """The upstream changes of a PATCH that needs no read, else ``None``."""
    fields: dict[str, Any] = {}
    user_name: str | None = None
    try:
        for operation in patch.operations or []:
            if operation.op.value != "replace":
                return None
            if operation.path is None:
                if not isinstance(operation.value, Mapping):
                    return None
                for key, value in operation.value.items():
                    if not isinstance(key, str):
                        return None
                    user_name = _apply(fields, key, value, pathless=True) or user_name
            else:
                user_name = _apply(fields, operation.path, operation.value) or user_name
    except _NeedsCurrent:
        return None
    fields.pop(_EMAILS_LISTED, None)
    if not fields:
        return None
    if user_name is not None:
        # TelemetryTV's login is the email; only a userName equal to the new email is
        # known to need no warning (the read path decides the rest).
        email = fields.get("email")
        if email is None or email.casefold() != user_name.casefold():
            return None
    if deactivation_deletes and fields.get("disabled") is True:
        return None
    return UserChanges(**fields)


def sets_active(patch: PatchOp[User]) -> bool:
    """Whether any operation of the PATCH names ``active`` (by path or pathless key)."""
    for operation in patch.operations or []:
        if operation.path is not None:
            if _short(operation.path) == "active":
                return True
        elif isinstance(operation.value, Mapping) and any(
            isinstance(key, str) and _short(key) == "active" for key in operation.value
        ):
            return True
    return False


def _short(raw_path: str) -> str:
    path = raw_path.strip().lower()
    return path[len(_CORE_PREFIX) :] if path.startswith(_CORE_PREFIX) else path


def _apply(
    fields: dict[str, Any], raw_path: str, value: Any, *, pathless: bool = False
) -> str | None:
    """Fold one replaced attribute into ``fields``; the ``userName`` given, if it is one."""
    path = _short(raw_path)
    if path.startswith("urn:"):
        if pathless:
            return None  # an extension attribute TelemetryTV cannot hold: ignored either way
        raise _NeedsCurrent
    if path == "active":
        fields["disabled"] = not _boolean(value)
    elif path == "password":
        fields["password"] = _text(value)
    elif path == "name.givenname":
        fields["given_name"] = _text(value)
    elif path == "name.familyname":
        fields["family_name"] = _text(value)
    elif path == "name":
        fields.update(_whole_name(value))
    elif path == "emails":
        fields["email"] = _chosen_email(value)
        fields[_EMAILS_LISTED] = True
    elif _WORK_EMAIL.fullmatch(path):
        if fields.get(_EMAILS_LISTED):
            # After a replaced list, which entry the filter picks (or whether it adds
            # one) depends on that list: the read path decides.
            raise _NeedsCurrent
        fields["email"] = _text(value, empty=False)
    elif path == "username":
        return _text(value, empty=False)
    else:
        raise _NeedsCurrent
    return None


def _text(value: Any, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise _NeedsCurrent
    return value


def _boolean(value: Any) -> bool:
    """``true``/``false``, or Entra's ``"True"``/``"False"``; anything else is the read path's."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _NeedsCurrent


def _whole_name(value: Any) -> dict[str, str]:
    """A ``name`` naming both parts; a partial one is merged or replaced: ambiguous."""
    if not isinstance(value, Mapping):
        raise _NeedsCurrent
    parts = {str(key).lower(): item for key, item in value.items()}
    if set(parts) != {"givenname", "familyname"}:
        raise _NeedsCurrent
    return {"given_name": _text(parts["givenname"]), "family_name": _text(parts["familyname"])}


def _chosen_email(value: Any) -> str:
    """The address of a replaced ``emails`` list: the primary one, else work, else the first.

    The same choice as :func:`~scim_proxy.translation.user_attributes.chosen_email`; a list
    with no usable address keeps the current one, which needs the read.
    """
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _NeedsCurrent
    emails = [item for item in value if isinstance(item.get("value"), str) and item["value"]]
    if len(emails) != len(value) or any(
        set(item) - {"value", "type", "primary"}
        or not isinstance(item.get("primary", False), bool)
        or not isinstance(item.get("type", ""), str)
        for item in value
    ):
        raise _NeedsCurrent
    primary = [e for e in emails if e.get("primary") is True]
    work = [e for e in emails if (e.get("type") or "").lower() == "work"]
    for candidates in (primary, work, emails):
        if candidates:
            return str(candidates[0]["value"])
    raise _NeedsCurrent
