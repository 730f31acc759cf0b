"""The SCIM resources the proxy serves, restricted to what TelemetryTV can hold.

scim2-models' full ``User`` declares some thirty attributes; TelemetryTV stores an email
address, two names, a disabled flag, a password and group memberships. Declaring only
those makes every other attribute "unknown": it is accepted in requests and dropped
(never echoed back as if stored), it is left out of ``/Schemas``, and a filter on it is
refused instead of silently matching nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field
from scim2_models import (
    CaseExact,
    ComplexAttribute,
    GroupMembership,
    Mutability,
    Reference,
    Required,
    Resource,
    Returned,
    ScimPolicy,
    Uniqueness,
)
from scim2_models import Role as UserRole
from scim2_models.urn import URN

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ROLE_SCHEMA = "urn:okta:scim:schemas:core:1.0:Role"
"""Okta Identity Governance's Role resource schema (developer.okta.com, "Build a SCIM 2.0
server with entitlements"); Okta discovers roles by a resource type with this schema."""
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

IDP_POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
"""How much Okta's and Entra's payloads may depart from the RFCs.

Unknown attributes are dropped (Okta and Entra send attributes TelemetryTV cannot hold),
a ``remove`` carrying a ``value`` removes those values (Entra's member removal), and a
replace through an unmatched value filter creates the entry (Entra's
``emails[type eq "work"].value`` on a user without a work email).
"""


class UserName(ComplexAttribute):
    """The components of the user's real name."""

    family_name: str | None = None
    """The family name (TelemetryTV's last name)."""

    given_name: str | None = None
    """The given name (TelemetryTV's first name)."""


class UserEmail(ComplexAttribute):
    """An email address of the user."""

    value: str | None = None
    """The address; TelemetryTV validates its format."""

    type: str | None = None
    """A label such as ``work``; Entra targets addresses through it."""

    primary: bool | None = None
    """Whether this is the address TelemetryTV holds."""


class User(Resource[Any]):
    """User Account"""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """The user's email address, which is the TelemetryTV login."""

    name: UserName | None = None
    """The components of the user's real name."""

    Name: ClassVar[type[ComplexAttribute]] = UserName

    display_name: Annotated[str | None, Mutability.read_only] = None
    """Given and family name; derived, not stored."""

    active: bool | None = None
    """Whether the user may sign in to TelemetryTV."""

    password: Annotated[str | None, Mutability.write_only, Returned.never, CaseExact.true] = None
    """The user's password: forwarded, never returned."""

    emails: list[UserEmail] | None = None
    """The user's one email address (TelemetryTV holds one)."""

    Emails: ClassVar[type[ComplexAttribute]] = UserEmail

    groups: Annotated[list[GroupMembership] | None, Mutability.read_only] = None
    """The TelemetryTV user groups the user belongs to."""

    Groups: ClassVar[type[ComplexAttribute]] = GroupMembership

    roles: list[UserRole] | None = None
    """The user's TelemetryTV user groups as roles: ``value`` the group id (a group name is
    accepted in writes), ``display`` its name. Only with ``[roles] enabled``."""

    Roles: ClassVar[type[ComplexAttribute]] = UserRole


USER_READ_ONLY = frozenset({"id", "meta", "displayname", "groups"})
"""User attributes a PATCH may name but never changes (lower-cased paths)."""


class Member(ComplexAttribute):
    """A user in a group (TelemetryTV groups hold users only, never groups)."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    """The user's id."""

    ref: Annotated[Reference[User] | None, Mutability.immutable] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The user's SCIM location."""

    type: Annotated[str | None, Mutability.read_only] = None
    """Always ``User``; set by the proxy."""

    display: Annotated[str | None, Mutability.read_only] = None
    """The user's ``displayName``; set by the proxy (a value sent is ignored)."""


class Group(Resource[Any]):
    """Group"""

    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true, CaseExact.true, Uniqueness.server] = None
    """The TelemetryTV user group's name (unique, and matched exactly, as TelemetryTV does)."""

    members: list[Member] | None = None
    """The users in the group."""

    Members: ClassVar[type[ComplexAttribute]] = Member


GROUP_READ_ONLY = frozenset({"id", "meta"})
"""Group attributes a PATCH may name but never changes (lower-cased paths)."""


class Role(Resource[Any]):
    """Role"""

    __schema__ = URN(ROLE_SCHEMA)

    display_name: Annotated[str | None, Mutability.read_only, CaseExact.true] = None
    """The TelemetryTV user group's name."""

    description: Annotated[str | None, Mutability.read_only] = None
    """What granting the role gives."""
