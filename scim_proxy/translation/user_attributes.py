"""SCIM User <-> directory user.

=====================  ===========================  =====================================
SCIM attribute         directory user               notes
=====================  ===========================  =====================================
id                     id
userName               email                        set on create; a later change alone is
                                                    ignored (TelemetryTV's login is the email)
emails                 email                        one work address, primary; a change here
                                                    changes the email
name.givenName         given_name
name.familyName        family_name
displayName            (derived)                    given and family name, else the email
active                 not disabled                 or deletion, per ``users.deactivation``
password               (write-only)                 forwarded, never returned
groups                 group_ids                    read-only
roles                  group_ids                    value = group id, display = its name;
                                                    written through :mod:`roles`
meta                   created, last_modified       location from the public base URL; no
                                                    version (docs/decisions.md: no ETags)
=====================  ===========================  =====================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from scim2_models import GroupMembership, Meta
from scim2_models import Role as UserRole

from ..directory import DirectoryUser, NewUser, UserChanges
from ..scim import render as scim_render
from ..scim.errors import invalid_value
from ..scim.models import USER_SCHEMA, User, UserEmail, UserName
from ..scim.payloads import UserCreation
from .passwords import generate_password


def user_resource(
    user: DirectoryUser, base_url: str, role_names: Mapping[str, str] | None = None
) -> User:
    """The SCIM User for a directory user; ``base_url`` is the SCIM base URL.

    ``role_names`` (group id -> name) adds ``roles``; ``None`` leaves them out.

    Built with ``model_construct``: the values come from TelemetryTV through the adapter,
    already typed, and validating them again would cost more than the rest of a read.
    """
    full_name = " ".join(part for part in (user.given_name, user.family_name) if part)
    return User.model_construct(
        schemas=[USER_SCHEMA],
        id=user.id,
        user_name=user.email,
        # Empty upstream names read as absent, so a removed name is gone, not "".
        name=UserName.model_construct(
            given_name=user.given_name or None, family_name=user.family_name or None
        )
        if full_name
        else None,
        display_name=full_name or user.email,
        active=not user.disabled,
        emails=[UserEmail.model_construct(value=user.email, type="work", primary=True)],
        groups=[
            GroupMembership.model_construct(
                value=group_id, ref=cast(Any, f"{base_url}/Groups/{group_id}"), type="direct"
            )
            for group_id in user.group_ids
        ]
        or None,
        roles=_roles(user, role_names),
        meta=Meta.model_construct(
            resource_type="User",
            created=user.created,
            last_modified=user.last_modified,
            location=f"{base_url}/Users/{user.id}",
        ),
    )


def _roles(user: DirectoryUser, role_names: Mapping[str, str] | None) -> list[UserRole] | None:
    if role_names is None or not user.group_ids:
        return None
    return [
        UserRole.model_construct(value=group_id, display=role_names.get(group_id))
        for group_id in user.group_ids
    ]


def user_document(
    user: DirectoryUser, base_url: str, role_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The JSON a response carries for a user: what :func:`user_resource` dumps to.

    Its ``meta`` timestamps are datetimes, as :class:`~scim_proxy.scim.render.UserDocuments`
    leaves them for the response's encoding.

    Built without models, for the reads every import and lookup makes (a page of 100
    users would otherwise build 600 models); tests hold the two equal.
    """
    return _document(scim_render.UserDocuments(base_url, role_names), user)


def user_documents(
    users: Iterable[DirectoryUser], base_url: str, role_names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The JSON of a page of users, each as :func:`user_document` gives it, in one pass."""
    render = scim_render.UserDocuments(base_url, role_names)
    return [_document(render, u) for u in users]


def _document(render: scim_render.UserDocuments, user: DirectoryUser) -> dict[str, Any]:
    given, family = user.given_name, user.family_name
    return render.document(
        user.id,
        user.email,
        given or None,
        family or None,
        display_name(user),
        not user.disabled,
        user.email,
        user.group_ids,
        user.created,
        user.last_modified,
    )


def display_name(user: DirectoryUser) -> str:
    """The user's ``displayName``: given and family name, else the email."""
    given, family = user.given_name, user.family_name
    # " ".join of the non-empty parts, without building a generator per user.
    if given and family:
        return f"{given} {family}"
    return given or family or user.email


class _Email(Protocol):
    """One of a user's ``emails``: scim2-models' ``UserEmail``, or a new user's entry."""

    @property
    def value(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def primary(self) -> bool | None: ...


def chosen_email(entries: Iterable[_Email] | None) -> str | None:
    """The address TelemetryTV should hold: the primary one, else work, else the first."""
    emails = [e for e in entries or () if e.value]
    primary = [e for e in emails if e.primary is True]
    work = [e for e in emails if (e.type or "").lower() == "work"]
    for candidates in (primary, work, emails):
        if candidates:
            return candidates[0].value
    return None


def _looks_like_email(value: str | None) -> bool:
    return value is not None and "@" in value and " " not in value


def new_user(creation: UserCreation) -> NewUser:
    """What creating the user a POST asks for sends to the directory."""
    user_name = creation.user_name
    email = user_name if _looks_like_email(user_name) else chosen_email(creation.emails)
    if email is None or not _looks_like_email(email):
        raise invalid_value(
            "userName must be the user's email address (TelemetryTV signs users in by email). "
            "In Okta set the application username format to Email.",
            "username_not_email",
        )
    return NewUser(
        email=email,
        given_name=creation.given_name or "",
        family_name=creation.family_name or "",
        password=creation.password or generate_password(),
    )


@dataclass(frozen=True, slots=True)
class UserUpdate:
    """What an update changes upstream, and what it had to leave out."""

    changes: UserChanges
    deactivate: bool
    """The request sets ``active`` to false."""
    ignored_username_change: bool
    """``userName`` changed with no matching email change; TelemetryTV cannot follow."""


def user_update(current: DirectoryUser, wanted: User) -> UserUpdate:
    """The upstream changes that turn ``current`` into the whole resource ``wanted``.

    A name left out is cleared, as a replacement does (RFC 7644 §3.5.1). An absent
    ``active`` never flips the user, and absent ``emails`` keep the email: TelemetryTV
    cannot hold a user without one.
    """
    email = chosen_email(wanted.emails)
    new_email = email if email and email != current.email else None
    username_changed = (
        wanted.user_name is not None
        and wanted.user_name.casefold() != current.email.casefold()
        and (new_email is None or new_email.casefold() != wanted.user_name.casefold())
    )

    name = wanted.name or UserName()
    given = name.given_name or ""
    family = name.family_name or ""

    disabled = None if wanted.active is None else not wanted.active
    changes = UserChanges(
        email=new_email,
        given_name=given if given != current.given_name else None,
        family_name=family if family != current.family_name else None,
        password=wanted.password,
        disabled=disabled if disabled is not None and disabled != current.disabled else None,
    )
    return UserUpdate(
        changes=changes,
        deactivate=disabled is True,
        ignored_username_change=username_changed,
    )
