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

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from .models import USER_SCHEMA, User, UserEmail, UserName

M = TypeVar("M", bound=BaseModel)

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
    if "locale" in body:
        # Not an attribute of the proxy's User: kept aside as scim2-models keeps it.
        if type(body["locale"]) is not str:
            return None
        return _USER.construct(fields, {"_unknown_attributes": {"locale": body["locale"]}})
    return _USER.construct(fields)


_UNSTORED = frozenset({"externalId", "displayName", "locale"})
"""The keys of the common shape TelemetryTV has no place for (scim/dropped.py)."""


def unstored_in_new_user(body: dict[str, Any]) -> list[str]:
    """What :func:`~scim_proxy.scim.dropped.unstorable_attributes` finds in a body read here.

    Only for a body :func:`read_new_user` read: every other key of that shape is stored
    or quietly ignored, and each of these holds a string, dropped unless empty.
    """
    return [key for key in body if key in _UNSTORED and body[key] != ""]


class _Construction(Generic[M]):
    """``model_construct`` for one model class, its per-class work done once.

    pydantic's ``model_construct`` walks every field of the class (aliases, defaults,
    required or not) and then runs the private-attribute set-up, about 15 µs for a
    ``User``; the fields and private attributes of these classes have fixed defaults,
    so the instance it makes is laid out here directly. Its equality with
    ``model_construct`` and with scim2-models' validation is held by property tests
    (tests/scim/test_fast_create.py).
    """

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.defaults: dict[str, Any] = {}
        self.factories: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            # A required field would be left out of an instance made without it.
            assert not info.is_required(), f"{model.__name__}.{name} has no default"
            if info.default_factory is not None:
                self.factories[name] = info.default_factory
                self.defaults[name] = None
            else:
                self.defaults[name] = info.default
        self.private_defaults: dict[str, Any] = {}
        self.private_factories: dict[str, Any] = {}
        for name, private in model.__private_attributes__.items():
            if private.default_factory is not None:
                self.private_factories[name] = private.default_factory
            else:
                self.private_defaults[name] = private.default
        assert model.model_config.get("extra") != "allow", "extra values would need keeping"

    def construct(self, fields: dict[str, Any], private: dict[str, Any] | None = None) -> M:
        """The instance ``model.model_construct(**fields)`` makes, private values set."""
        values = dict(self.defaults)
        for name, factory in self.factories.items():
            if name not in fields:
                values[name] = factory()
        values.update(fields)
        private_values = dict(self.private_defaults)
        for name, factory in self.private_factories.items():
            private_values[name] = factory()
        if private:
            private_values.update(private)
        instance = self.model.__new__(self.model)
        object.__setattr__(instance, "__dict__", values)
        object.__setattr__(instance, "__pydantic_fields_set__", set(fields))
        object.__setattr__(instance, "__pydantic_extra__", None)
        object.__setattr__(instance, "__pydantic_private__", private_values)
        return instance


_USER = _Construction(User)
_NAME = _Construction(UserName)
_EMAIL = _Construction(UserEmail)


def _name(value: Any) -> UserName | None:
    if type(value) is not dict or not value:
        return None
    fields: dict[str, Any] = {}
    for key, part in value.items():
        field = _NAME_FIELDS.get(key)
        if field is None or type(part) is not str:
            return None
        fields[field] = part
    return _NAME.construct(fields)


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
        emails.append(_EMAIL.construct(entry))
    # RFC 7643 allows one primary address; scim2-models refuses more.
    return emails if primaries <= 1 else None
