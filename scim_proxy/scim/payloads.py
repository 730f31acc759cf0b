"""Reading SCIM request payloads into resources and PatchOps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import Context, PatchOp, Resource, SCIMException
from scim2_models import Role as UserRole

from ..ops.context import note_quirk, request_stats
from .dropped import note_dropped, note_dropped_names
from .errors import ScimError
from .models import (
    GROUP_SCHEMA,
    IDP_POLICY,
    PATCH_OP_SCHEMA,
    USER_SCHEMA,
    User,
)

R = TypeVar("R", bound=Resource[Any])


def _with_schema(body: dict[str, Any], schema: str) -> dict[str, Any]:
    # Some clients leave out "schemas"; the endpoint already says what the body is.
    if "schemas" not in body:
        return {**body, "schemas": [schema]}
    return body


def read_resource(model: type[R], body: dict[str, Any], *, replacing: bool) -> R:
    """Validate a POST or PUT body; read-only and unknown attributes are dropped."""
    context = (
        Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    )
    what = f"The {model.__name__}"
    try:
        resource = model.model_validate(
            _with_schema(body, str(model.__schema__)), scim_ctx=context, scim_policy=IDP_POLICY
        )
    except ValidationError as exc:
        raise ScimError.from_validation_error(exc, what=what, reason="invalid_resource") from exc
    except SCIMException as exc:
        raise ScimError.from_scim_exception(exc, reason="invalid_resource") from exc
    note_dropped(model.__name__, body)
    return resource


@dataclass(frozen=True, slots=True)
class EmailEntry:
    """One of a new user's ``emails``, as the POST sent it."""

    value: str | None
    type: str | None = None
    primary: bool | None = None


@dataclass(frozen=True, slots=True)
class UserCreation:
    """What a POST /Users asks for: the attributes creating a user can use.

    Read from the body by :func:`read_user_creation`, directly for the common shape and
    through scim2-models' :class:`User` for any other (:meth:`of`); the rest of a body
    (``displayName``, ``groups``, ``externalId``...) is read-only or has no place in
    TelemetryTV, and is dropped either way.
    """

    user_name: str | None
    given_name: str | None = None
    family_name: str | None = None
    emails: tuple[EmailEntry, ...] = ()
    password: str | None = None
    active: bool | None = None
    roles: list[UserRole] | None = None

    @classmethod
    def of(cls, user: User) -> UserCreation:
        """What the validated ``user`` asks for."""
        name = user.name
        return cls(
            user_name=user.user_name,
            given_name=name.given_name if name is not None else None,
            family_name=name.family_name if name is not None else None,
            emails=tuple(EmailEntry(e.value, e.type, e.primary) for e in user.emails or ()),
            password=user.password,
            active=user.active,
            roles=user.roles,
        )


def read_user_creation(body: dict[str, Any]) -> UserCreation:
    """A POST /Users body: the common shape read directly, anything else validated.

    scim2-models validates a creation body in about 90 µs, a fifth of a POST's CPU. The
    body Okta sends for a new user (and plain ones such as the bench's) is nearly always
    one shape: ``userName``, ``name`` with given and family name, work ``emails``,
    ``password``, ``active``, ``externalId``, and ``displayName``, ``locale`` and an
    empty ``groups``, which the proxy ignores. That shape, every value of its type, is
    read here by :func:`common_user_creation` (docs/performance.md, "second paths").
    Anything else (another key or spelling, an extension, a value of another type, no
    ``userName``) goes through :func:`read_resource`, which also words every refusal.
    """
    creation = common_user_creation(body)
    if creation is None:
        return UserCreation.of(read_resource(User, body, replacing=False))
    # What note_dropped finds in this shape: the keys TelemetryTV has no place for.
    note_dropped_names("User", [key for key in body if key in _UNSTORED and body[key] != ""])
    return creation


_COMMON = frozenset(
    {"schemas", "userName", "name", "emails", "password", "active", "externalId"}
    | {"displayName", "groups", "locale"}
)
_SCALARS = (
    ("userName", str),
    ("password", str),
    ("active", bool),
    ("externalId", str),
    ("displayName", str),
    ("locale", str),
)
_NAME_PARTS = frozenset({"givenName", "familyName"})
_EMAIL_PARTS = {"value": str, "type": str, "primary": bool}
_UNSTORED = frozenset({"externalId", "displayName", "locale"})


def common_user_creation(body: dict[str, Any]) -> UserCreation | None:
    """What a creation body of the common shape asks for, as scim2-models reads it.

    ``None`` for any other body: what this reads is exactly what
    ``UserCreation.of(read_resource(User, body, ...))`` gives (tests/scim/
    test_user_creation.py holds the two equal over generated bodies and near misses).
    About 3 µs, where building scim2-models' ``User`` with ``model_construct`` took 15.
    """
    if (
        "userName" not in body
        or not _COMMON.issuperset(body)
        or body.get("schemas") != [USER_SCHEMA]
    ):
        return None
    # Each value of its type; an explicit null too is scim2-models' to read (or word).
    for key, kind in _SCALARS:
        if key in body and type(body[key]) is not kind:
            return None
    given = family = None
    if "name" in body:
        name = body["name"]
        if type(name) is not dict or not _NAME_PARTS.issuperset(name):
            return None
        given, family = name.get("givenName"), name.get("familyName")
        if not all(type(part) is str for part in name.values()):
            return None
    emails: tuple[EmailEntry, ...] = ()
    if "emails" in body:
        entries = body["emails"]
        if type(entries) is not list:
            return None
        for entry in entries:
            if type(entry) is not dict:
                return None
            if not all(type(v) is _EMAIL_PARTS.get(k) for k, v in entry.items()):
                return None
        # RFC 7643 allows one primary address; scim2-models refuses more.
        if sum(entry.get("primary") is True for entry in entries) > 1:
            return None
        emails = tuple(
            EmailEntry(entry.get("value"), entry.get("type"), entry.get("primary"))
            for entry in entries
        )
    # Read-only (displayName, groups) and unknown (locale): scim2-models drops the value.
    # Okta sends an empty ``groups``.
    if "groups" in body and body["groups"] != []:
        return None
    get = body.get
    return UserCreation(get("userName"), given, family, emails, get("password"), get("active"))


def _without_read_only(body: dict[str, Any], read_only: frozenset[str]) -> dict[str, Any]:
    """The PATCH body without operations or value keys that target read-only attributes.

    Okta's group rename repeats the group ``id`` in its value, and Entra's pathless
    replace may carry ``displayName``, which the proxy derives. Refusing these with
    ``mutability`` would fail the whole request, so they are dropped instead.
    """
    operations = body.get("Operations")
    if not isinstance(operations, list):
        return body
    kept: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = operation.get("path")
        if isinstance(path, str) and _short(path) in read_only:
            note_quirk("read_only_attribute_ignored")
            continue
        value = operation.get("value")
        if path is None and isinstance(value, dict):
            trimmed = _trim(value, read_only, prefix="")
            if trimmed != value:
                note_quirk("read_only_attribute_ignored")
                if not trimmed:
                    continue
                operation = {**operation, "value": trimmed}
        kept.append(operation)
    return {**body, "Operations": kept}


def _short(path: str) -> str:
    lowered = path.strip().lower()
    for prefix in (USER_SCHEMA.lower() + ":", GROUP_SCHEMA.lower() + ":"):
        if lowered.startswith(prefix):
            return lowered[len(prefix) :]
    return lowered


def _trim(value: dict[str, Any], read_only: frozenset[str], *, prefix: str) -> dict[str, Any]:
    trimmed: dict[str, Any] = {}
    for key, item in value.items():
        name = prefix + _short(key)
        if name in read_only:
            continue
        if isinstance(item, dict) and not prefix:
            item = _trim(item, read_only, prefix=name + ".")
        trimmed[key] = item
    return trimmed


def _value_paths_as_operations(body: dict[str, Any]) -> dict[str, Any]:
    """Pathless values whose keys are value-filtered paths, as operations of their own.

    Entra's pathless replace may carry ``{"emails[type eq \"work\"].value": "..."}``
    beside plain keys; scim2-models reads dotted keys but not filtered ones, which would
    drop the change silently.
    """
    operations = body.get("Operations")
    if not isinstance(operations, list):
        return body
    rewritten: list[Any] = []
    for operation in operations:
        value = operation.get("value") if isinstance(operation, dict) else None
        if not isinstance(value, dict) or operation.get("path") is not None:
            rewritten.append(operation)
            continue
        filtered = {k: v for k, v in value.items() if isinstance(k, str) and "[" in k}
        if not filtered:
            rewritten.append(operation)
            continue
        note_quirk("pathless_value_filter_key")
        rest = {k: v for k, v in value.items() if k not in filtered}
        if rest:
            rewritten.append({**operation, "value": rest})
        rewritten += [{**operation, "path": k, "value": v} for k, v in filtered.items()]
    return {**body, "Operations": rewritten}


def read_patch(
    model: type[R], body: dict[str, Any], *, read_only: frozenset[str] = frozenset()
) -> PatchOp[R] | None:
    """Validate a PATCH body for ``model``; ``None`` when nothing is left to apply.

    ``read_only`` holds lower-cased attribute paths whose operations are dropped.
    """
    prepared = _prepared_patch(model, body, read_only)
    return None if prepared is None else _validated_patch(model, prepared)


def _prepared_patch(
    model: type[R], body: dict[str, Any], read_only: frozenset[str]
) -> dict[str, Any] | None:
    """The body as scim2-models is to read it; ``None`` when nothing is left to apply."""
    note_dropped(model.__name__, body)
    body = _without_read_only(_value_paths_as_operations(body), read_only)
    if body.get("Operations") == [] and "Operations" in body:
        return None
    return _with_schema(body, PATCH_OP_SCHEMA)


def _validated_patch(model: type[R], body: dict[str, Any]) -> PatchOp[R]:
    try:
        patch: PatchOp[R] = PatchOp[model].model_validate(  # type: ignore[valid-type]
            body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=IDP_POLICY
        )
    except ValidationError as exc:
        raise ScimError.from_validation_error(
            exc, what="The PATCH request", reason="invalid_patch"
        ) from exc
    except SCIMException as exc:
        raise ScimError.from_scim_exception(exc, reason="invalid_patch") from exc
    return patch


PATCH_SLICE = 32
"""PATCHes of up to this many operations are read and applied in one piece (a few ms)."""

SLICE_SECONDS = 0.002
"""About how long a larger PATCH's work runs before the event loop gets a turn."""


async def read_patch_in_slices(
    model: type[R], body: dict[str, Any], *, read_only: frozenset[str] = frozenset()
) -> PatchOp[R] | None:
    """:func:`read_patch`, letting the event loop serve others between slices of a large
    PATCH's operations (:func:`_in_slices`), and stopping (503) once the request's time
    budget is spent.

    Each operation is checked on its own by scim2-models, so reading the operations a
    slice at a time accepts and refuses what reading them at once would; a refusal
    names only the first refused slice's errors.
    """
    prepared = _prepared_patch(model, body, read_only)
    if prepared is None:
        return None
    operations = prepared.get("Operations")
    if not isinstance(operations, list) or len(operations) <= PATCH_SLICE:
        return _validated_patch(model, prepared)
    read: list[Any] = []

    def read_slice(part: list[Any]) -> None:
        read.extend(_validated_patch(model, {**prepared, "Operations": part}).operations or [])

    await _in_slices(operations, read_slice, "read the PATCH")
    whole: PatchOp[R] = PatchOp[model].model_construct(  # type: ignore[valid-type]
        schemas=prepared["schemas"], operations=read
    )
    return whole


async def apply_patch_in_slices(patch: PatchOp[R], resource: R) -> None:
    """Apply ``patch`` to ``resource`` (a copy: nothing else sees it) under the IdP policy,
    letting the event loop serve others between slices of a large PATCH's operations.

    Applied in order, as at once. A failing operation raises with the earlier slices'
    changes left on ``resource``, which the caller then discards unwritten.
    """
    operations = patch.operations or []
    if len(operations) <= PATCH_SLICE:
        patch.patch(resource, scim_policy=IDP_POLICY)
        return
    sliced = PatchOp[type(resource)]  # type: ignore[misc,valid-type]

    def apply_slice(part: list[Any]) -> None:
        sliced.model_construct(operations=part).patch(resource, scim_policy=IDP_POLICY)

    await _in_slices(operations, apply_slice, "apply the PATCH")


async def _in_slices(items: list[Any], work: Callable[[list[Any]], None], what: str) -> None:
    """``work`` over consecutive slices of ``items``, the event loop turning in between.

    A slice is sized from the last one's time to take about :data:`SLICE_SECONDS`: an
    ``emails`` add costs ten times a plain replace, so a fixed count would hold the loop
    for very different times.
    """
    size, start = 8, 0
    while start < len(items):
        began = time.perf_counter()
        work(items[start : start + size])
        start += size
        took = time.perf_counter() - began
        size = max(1, min(PATCH_SLICE, int(size * SLICE_SECONDS / max(took, 1e-6))))
        await _next_slice(what)


async def _next_slice(what: str) -> None:
    """Let the event loop run others; refuse to go on past the request's time budget."""
    await asyncio.sleep(0)
    remaining = request_stats().remaining()
    if remaining is not None and remaining <= 0:
        raise ScimError(
            503,
            f"The proxy could not {what} within the request's time budget; retry later, or "
            "send the change in smaller requests.",
            headers={"Retry-After": "5"},
            reason="work_over_budget",
        )
