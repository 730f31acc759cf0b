"""A fast reading of the common user-creation body, equal to scim2-models' own.

scim2-models validates a POST /Users body in about 150 µs (pydantic, then its SCIM
context and schema checks). The body Okta and Entra send for a new user is nearly always
the same plain shape: ``userName``, ``name`` with given and family name, work
``emails``, ``password``, ``active``, ``externalId``, and a few attributes the proxy
ignores. For exactly that shape, with every value of the expected type, the same
:class:`User` is built here directly; anything else (another key or spelling, an
extension, a value of another type, an empty ``userName``) gives ``None`` and goes
through scim2-models, which also words every refusal. Property tests hold the two equal
(tests/scim/test_fast_create.py).
"""

from __future__ import annotations

from typing import Any

from .models import USER_SCHEMA, User, UserEmail, UserName

_NAME_FIELDS = {"givenName": "given_name", "familyName": "family_name"}
_EMAIL_FIELDS = {"value": str, "type": str, "primary": bool}
_PLAIN = {"password": ("password", str), "active": ("active", bool)}
_PLAIN["externalId"] = ("external_id", str)
_KEYS = frozenset({"schemas", "userName", "name", "emails", "displayName", "groups", "locale"})
_KEYS |= _PLAIN.keys()


def read_new_user(body: dict[str, Any]) -> User | None:
    """The :class:`User` scim2-models would read from this creation body, or ``None``.

    ``None`` means "not the common shape": the caller validates with scim2-models.
    """
    if not _KEYS.issuperset(body) or body.get("schemas") != [USER_SCHEMA]:
        return None
    user_name = body.get("userName")
    if type(user_name) is not str or not user_name:
        return None
    fields: dict[str, Any] = {"schemas": [USER_SCHEMA], "user_name": user_name}
    for key, (field, kind) in _PLAIN.items():
        if key in body:
            value = body[key]
            if type(value) is not kind:
                return None
            fields[field] = value
    if "name" in body:
        name = _name(body["name"])
        if name is None:
            return None
        fields["name"] = name
    if "emails" in body:
        emails = _emails(body["emails"])
        if emails is None:
            return None
        fields["emails"] = emails
    if "displayName" in body:
        # Read-only: scim2-models drops the value of a request but marks the field set.
        if type(body["displayName"]) is not str:
            return None
        fields["display_name"] = None
    if "groups" in body:
        # Read-only too; Okta sends an empty list.
        if body["groups"] != []:
            return None
        fields["groups"] = None
    user = User.model_construct(**fields)
    if "locale" in body:
        # Not an attribute of the proxy's User: kept aside as scim2-models keeps it.
        if type(body["locale"]) is not str:
            return None
        user._unknown_attributes = {"locale": body["locale"]}
    return user


def _name(value: Any) -> UserName | None:
    if type(value) is not dict or not value:
        return None
    fields: dict[str, Any] = {}
    for key, part in value.items():
        field = _NAME_FIELDS.get(key)
        if field is None or type(part) is not str:
            return None
        fields[field] = part
    return UserName.model_construct(**fields)


def _emails(value: Any) -> list[UserEmail] | None:
    if type(value) is not list or not value:
        return None
    emails: list[UserEmail] = []
    primaries = 0
    for entry in value:
        if type(entry) is not dict or not entry:
            return None
        for key, part in entry.items():
            kind = _EMAIL_FIELDS.get(key)
            if kind is None or type(part) is not kind:
                return None
        primaries += entry.get("primary") is True
        emails.append(UserEmail.model_construct(**entry))
    # RFC 7643 allows one primary address; scim2-models refuses more.
    return emails if primaries <= 1 else None
