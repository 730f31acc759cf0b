"""The records every layer shares: users and groups as the directory holds them.

These are neutral value objects. They carry no SCIM wire shape and no TelemetryTV field
name: the TelemetryTV adapter builds them from upstream JSON, and the translation layer
turns them into SCIM resources. Keeping them plain records keeps the hot path free of
validation work the upstream already did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class DirectoryUser(msgspec.Struct, frozen=True, gc=False):
    """A user as the directory stores it.

    A frozen ``msgspec.Struct``: a page of users builds a hundred, and building one
    positionally is done in C, untracked by the garbage collector (it holds only strings,
    a tuple of strings and datetimes), where a frozen dataclass sets each field through
    ``object.__setattr__`` (docs/performance.md). Change it with
    ``msgspec.structs.replace``. Equal only to a user of the same values; hashable.
    """

    id: str
    email: str
    given_name: str
    family_name: str
    disabled: bool
    group_ids: tuple[str, ...]
    created: datetime | None
    """When the user was created; always timezone-aware when known."""
    last_modified: datetime | None
    """When the user last changed; always timezone-aware when known."""


def instant_text(value: datetime) -> str:
    """An instant as ISO 8601 text: ``datetime.isoformat``'s spelling, UTC written ``Z``."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, slots=True)
class NewUser:
    """What creating a user sends to the directory."""

    email: str
    given_name: str
    family_name: str
    password: str = field(repr=False)
    group_ids: tuple[str, ...] = ()
    """The groups the user is created in (no concurrent writer can know the new id yet)."""


@dataclass(frozen=True, slots=True)
class UserChanges:
    """The fields of one user to change; ``None`` means "leave as it is"."""

    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    password: str | None = field(default=None, repr=False)
    disabled: bool | None = None
    group_ids: tuple[str, ...] | None = None

    def is_empty(self) -> bool:
        """Whether applying these changes would change nothing."""
        return all(
            value is None
            for value in (
                self.email,
                self.given_name,
                self.family_name,
                self.password,
                self.disabled,
                self.group_ids,
            )
        )


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A user group as the directory stores it."""

    id: str
    name: str
    built_in: bool
    created: datetime | None
    last_modified: datetime | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the total the listing holds.

    ``total`` is ``None`` when the directory did not say how many there are.
    """

    items: Sequence[T]
    total: int | None
