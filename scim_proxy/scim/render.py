"""The JSON of the resources the proxy serves: scim2-models' dump, or built directly.

A response that selects attributes (``attributes``, ``excludedAttributes``) is the model
dumped by scim2-models (:func:`dump_resource`). Every other User or Group response, which
is nearly all of them, is built here from plain values, without models: scim2-models'
context-aware serializer takes about 150 µs a user (11 ms a page of 100 users, 28 ms a
group of 1,000 members) where these take 2-5 µs (docs/performance.md, "second paths").
tests/scim/test_render.py holds the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from scim2_models import Context, Resource, ResponseParameters

from ..directory import instant_text
from .models import GROUP_SCHEMA, USER_SCHEMA

JSON_OPTIONS = orjson.OPT_UTC_Z
"""orjson's options for every SCIM response: an aware datetime in UTC written with ``Z``.

orjson then writes what ``datetime.isoformat`` does, ``+00:00`` as ``Z``
(:func:`~scim_proxy.directory.instant_text`, scim2-models' spelling) for every offset of
whole minutes, the only ones a directory record holds (tests/scim/test_render.py).
"""


def dump_resource(
    resource: Resource[Any], params: ResponseParameters[Any] | None, *, context: Context
) -> dict[str, Any]:
    """The JSON of a resource in a response, honouring attributes/excludedAttributes."""
    return resource.model_dump(scim_ctx=context, response_parameters=params)


class UserDocuments:
    """Renders the User responses of one request: one base URL, one set of role names.

    ``role_names`` (group id -> name) adds ``roles``; ``None`` leaves them out.

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
    ) -> dict[str, Any]:
        """One User response from plain values: what scim2-models dumps the User to.

        ``meta`` holds the datetimes themselves (timezone-aware): every SCIM response is
        encoded with :data:`JSON_OPTIONS`, whose text for them is scim2-models' (UTC as
        ``Z``), and orjson writes it in C. With role names, ``roles`` holds one entry per
        group.
        """
        # Each dict is built whole, by a literal, for the common shapes (a dict built key
        # by key costs about twice as much): a page builds a hundred of these.
        if created is not None and last_modified is not None:
            meta: dict[str, Any] = {
                "resourceType": "User",
                "created": created,
                "lastModified": last_modified,
                "location": self._users + id,
            }
        else:
            meta = {"resourceType": "User"}
            if created is not None:
                meta["created"] = created
            if last_modified is not None:
                meta["lastModified"] = last_modified
            meta["location"] = self._users + id
        if family_name is not None and given_name is not None:
            name: dict[str, str] | None = {"familyName": family_name, "givenName": given_name}
        elif family_name is not None:
            name = {"familyName": family_name}
        elif given_name is not None:
            name = {"givenName": given_name}
        else:
            name = None
        emails = [{"value": email, "type": "work", "primary": True}]
        body: dict[str, Any]
        if name is not None:
            body = {
                "schemas": [USER_SCHEMA],
                "id": id,
                "meta": meta,
                "userName": user_name,
                "name": name,
                "displayName": display_name,
                "active": active,
                "emails": emails,
            }
        else:
            body = {
                "schemas": [USER_SCHEMA],
                "id": id,
                "meta": meta,
                "userName": user_name,
                "displayName": display_name,
                "active": active,
                "emails": emails,
            }
        if not group_ids:
            return body
        names = self._role_names
        if len(group_ids) == 1:
            # The common case (TelemetryTV's groups serve as roles: a user has one),
            # without the two comprehensions' frames.
            g = group_ids[0]
            body["groups"] = [{"value": g, "$ref": self._groups + g, "type": "direct"}]
            if names is not None:
                body["roles"] = [{"value": g, "display": names[g]} if g in names else {"value": g}]
            return body
        prefix = self._groups
        body["groups"] = [{"value": g, "$ref": prefix + g, "type": "direct"} for g in group_ids]
        if names is not None:
            body["roles"] = [
                {"value": g, "display": names[g]} if g in names else {"value": g} for g in group_ids
            ]
        return body


def group_document(
    *,
    id: str,
    display_name: str,
    members: list[tuple[str, str]],
    base_url: str,
    created: datetime | None,
    last_modified: datetime | None,
) -> dict[str, Any]:
    """A Group response from plain values (members as (id, display)): what scim2-models
    dumps the Group model of the same values to."""
    meta: dict[str, Any] = {"resourceType": "Group"}
    if created is not None:
        meta["created"] = instant_text(created)
    if last_modified is not None:
        meta["lastModified"] = instant_text(last_modified)
    meta["location"] = f"{base_url}/Groups/{id}"
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": id, "meta": meta}
    body["displayName"] = display_name
    if members:
        body["members"] = [
            {"value": m, "$ref": f"{base_url}/Users/{m}", "type": "User", "display": display}
            for m, display in members
        ]
    return body
