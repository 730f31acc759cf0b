"""Fast JSON for the resources the proxy serves, when no attribute selection applies.

scim2-models' ``model_dump`` runs a context-aware serializer over every field (about
120 us a user, 15 ms a page of 100), and building the models costs as much again. For
the common response (no ``attributes`` or ``excludedAttributes``) the same JSON is built
here from plain values; property tests hold it equal to scim2-models' dump of the
corresponding model (tests/scim/test_render.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .models import GROUP_SCHEMA, USER_SCHEMA


def _timestamp(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def user_document(
    *,
    id: str,
    user_name: str,
    given_name: str | None,
    family_name: str | None,
    display_name: str,
    active: bool,
    email: str,
    group_ids: tuple[str, ...],
    base_url: str,
    created: datetime | None,
    last_modified: datetime | None,
    role_names: Mapping[str, str] | None = None,
    created_text: str | None = None,
    last_modified_text: str | None = None,
) -> dict[str, Any]:
    """A User response from plain values: the same JSON :func:`user_json` gives.

    ``role_names`` (group id -> name) adds ``roles``, one per group; ``None`` leaves them out.
    ``created_text`` and ``last_modified_text``, when given, are the timestamps already
    spelled as ISO 8601 text with UTC as ``Z`` (what the datetimes would render to).
    """
    return UserDocuments(base_url, role_names).document(
        id,
        user_name,
        given_name,
        family_name,
        display_name,
        active,
        email,
        group_ids,
        created,
        last_modified,
        created_text,
        last_modified_text,
    )


class UserDocuments:
    """Renders the User responses of one request: one base URL, one set of role names.

    A page renders a hundred users; the URL prefixes are joined once for all of them, and
    each user is one positional call (keyword arguments cost more than the rest).
    """

    __slots__ = ("_groups", "_role_names", "_users")

    def __init__(self, base_url: str, role_names: Mapping[str, str] | None = None) -> None:
        self._users = f"{base_url}/Users/"
        self._groups = f"{base_url}/Groups/"
        self._role_names = role_names

    def document(
        self,
        id: str,
        user_name: str,
        given_name: str | None,
        family_name: str | None,
        display_name: str,
        active: bool,
        email: str,
        group_ids: tuple[str, ...],
        created: datetime | None,
        last_modified: datetime | None,
        created_text: str | None = None,
        last_modified_text: str | None = None,
    ) -> dict[str, Any]:
        """One user's response, as :func:`user_document` describes it."""
        meta: dict[str, Any] = {"resourceType": "User"}
        if created_text is not None:
            meta["created"] = created_text
        elif created is not None:
            meta["created"] = _timestamp(created)
        if last_modified_text is not None:
            meta["lastModified"] = last_modified_text
        elif last_modified is not None:
            # The same object when the upstream gave one text for both (never-updated users).
            meta["lastModified"] = (
                meta["created"] if last_modified is created else _timestamp(last_modified)
            )
        meta["location"] = self._users + id
        body: dict[str, Any] = {
            "schemas": [USER_SCHEMA],
            "id": id,
            "meta": meta,
            "userName": user_name,
        }
        if family_name is not None:
            if given_name is not None:
                body["name"] = {"familyName": family_name, "givenName": given_name}
            else:
                body["name"] = {"familyName": family_name}
        elif given_name is not None:
            body["name"] = {"givenName": given_name}
        body["displayName"] = display_name
        body["active"] = active
        body["emails"] = [{"value": email, "type": "work", "primary": True}]
        if group_ids:
            prefix = self._groups
            body["groups"] = [{"value": g, "$ref": prefix + g, "type": "direct"} for g in group_ids]
            role_names = self._role_names
            if role_names is not None:
                body["roles"] = [_role(g, role_names.get(g)) for g in group_ids]
        return body


def _role(group_id: str, name: str | None) -> dict[str, Any]:
    return {"value": group_id, "display": name} if name is not None else {"value": group_id}


def group_document(
    *,
    id: str,
    display_name: str,
    members: list[tuple[str, str]],
    base_url: str,
    created: datetime | None,
    last_modified: datetime | None,
) -> dict[str, Any]:
    """A Group response from plain values (members as (id, display)): as :func:`group_json`."""
    meta: dict[str, Any] = {"resourceType": "Group"}
    if created is not None:
        meta["created"] = _timestamp(created)
    if last_modified is not None:
        meta["lastModified"] = _timestamp(last_modified)
    meta["location"] = f"{base_url}/Groups/{id}"
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": id, "meta": meta}
    body["displayName"] = display_name
    if members:
        body["members"] = [
            {"value": m, "$ref": f"{base_url}/Users/{m}", "type": "User", "display": display}
            for m, display in members
        ]
    return body
