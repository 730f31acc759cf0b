"""TelemetryTV's JSON shapes: the only place that knows its field names.

Builds directory records from upstream JSON, upstream JSON from directory records, and
upstream errors from error responses.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import orjson

from ..directory import DirectoryGroup, DirectoryUser, NewUser, UserChanges
from .errors import (
    BadResponse,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    UpstreamError,
)

TOTAL_HEADER = "Total-Records-Count"
"""The response header carrying the size of a whole listing."""

_TAKEN_WORDS = ("already", "taken", "exists", "in use", "duplicate")


def parse_timestamp(value: Any) -> datetime | None:
    """Read an RFC 3339 timestamp; no zone reads as UTC, anything unreadable gives ``None``.

    msgspec's reader, the one :data:`_users` decodes with, so that both ways of reading a
    user agree on every text (docs/telemetrytv-api.md).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = _convert(value, datetime)
    except msgspec.ValidationError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_convert = msgspec.convert

# isinstance(x, str) as a function filter() calls without a Python frame per item.
_is_str = str.__instancecheck__

_Instant = Annotated[datetime, msgspec.Meta(tz=True)]


class _User(msgspec.Struct, gc=False):
    """TelemetryTV's user object as the strict reading takes it (unknown fields ignored).

    Anything this does not describe (a null name, a string ``disabled``, a naive or
    unreadable timestamp) makes the strict reading fail, and the lenient one decides.
    """

    id: Annotated[str, msgspec.Meta(min_length=1)]
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    disabled: bool = False
    user_group_ids: tuple[str, ...] = ()
    created_at: _Instant | None = None
    updated_at: _Instant | None = None


# Built once: each decodes a whole body in one C call.
_users = msgspec.json.Decoder(list[_User]).decode
_user = msgspec.json.Decoder(_User).decode

# What sends a body to the lenient reading: not in the strict shape, or not JSON at all
# (msgspec raises RecursionError past its nesting limit, where orjson raises its own).
_NOT_STRICT = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _check_utf8(content: bytes) -> None:
    """Raise UnicodeDecodeError unless ``content`` is UTF-8.

    msgspec checks the strings it keeps but skips unknown fields' values unchecked;
    orjson refuses a body with invalid UTF-8 anywhere, and so must the strict reading.
    An ASCII body (the usual one) is checked without decoding it.
    """
    if not content.isascii():
        content.decode()


def users_from_body(content: bytes) -> list[DirectoryUser]:
    """The users of a listing's body (a JSON array of TelemetryTV user objects).

    Read in one C call when every user is in TelemetryTV's documented shape; otherwise
    the whole body is read leniently, as :func:`user_from_json` reads each user, and
    :class:`BadResponse` when it is not JSON, not an array, or holds a user without an id.
    Tests hold both readings equal wherever the strict one succeeds.
    """
    try:
        _check_utf8(content)
        wire = _users(content)
    except _NOT_STRICT:
        data = decode_json(content)
        if not isinstance(data, list):
            raise BadResponse("a listing that is not an array") from None
        return [user_from_json(u) for u in data]
    return list(map(_record, wire))


def user_from_body(content: bytes) -> DirectoryUser:
    """The user of a body holding one TelemetryTV user object: as :func:`users_from_body`."""
    try:
        _check_utf8(content)
        u = _user(content)
    except _NOT_STRICT:
        return user_from_json(decode_json(content))
    return _record(u)


def _record(u: _User) -> DirectoryUser:
    """The directory's record of a strictly read TelemetryTV user."""
    return DirectoryUser(
        u.id,
        u.email,
        u.first_name,
        u.last_name,
        u.disabled,
        u.user_group_ids,
        u.created_at,
        u.updated_at,
    )


def user_from_json(obj: Any) -> DirectoryUser:
    """Build a user from TelemetryTV's user object, decoded: the lenient reading.

    Every field is optional but the id; a value of the wrong type reads as absent.
    """
    if not isinstance(obj, dict):
        raise BadResponse("a user without an id")
    get = obj.get
    user_id = get("id")
    if not isinstance(user_id, str) or not user_id:
        raise BadResponse("a user without an id")
    email, first, last = get("email"), get("first_name"), get("last_name")
    group_ids = get("user_group_ids")
    return DirectoryUser(
        user_id,
        email if isinstance(email, str) else "",
        first if isinstance(first, str) else "",
        last if isinstance(last, str) else "",
        get("disabled") is True,
        tuple(filter(_is_str, group_ids)) if isinstance(group_ids, list) and group_ids else (),
        parse_timestamp(get("created_at")),
        parse_timestamp(get("updated_at")),
    )


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def group_from_json(obj: Any) -> DirectoryGroup:
    """Build a group from TelemetryTV's user-group object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        raise BadResponse("a user group without an id")
    return DirectoryGroup(
        id=obj["id"],
        name=_text(obj, "name"),
        built_in=obj.get("built_in") is True,
        created=parse_timestamp(obj.get("created_at")),
        last_modified=parse_timestamp(obj.get("updated_at")),
    )


def new_user_json(user: NewUser) -> dict[str, Any]:
    """The body of a user creation."""
    body: dict[str, Any] = {
        "email": user.email,
        "first_name": user.given_name,
        "last_name": user.family_name,
        "password": user.password,
        "user_group_ids": list(user.group_ids),
    }
    return body


def user_changes_json(changes: UserChanges) -> dict[str, Any]:
    """The body of a partial user update: only the fields that change."""
    body: dict[str, Any] = {}
    if changes.email is not None:
        body["email"] = changes.email
    if changes.given_name is not None:
        body["first_name"] = changes.given_name
    if changes.family_name is not None:
        body["last_name"] = changes.family_name
    if changes.password is not None:
        body["password"] = changes.password
    if changes.disabled is not None:
        body["disabled"] = changes.disabled
    if changes.group_ids is not None:
        body["user_group_ids"] = list(changes.group_ids)
    return body


_USER_FIELDS = {
    "email": "email",
    "first_name": "given_name",
    "last_name": "family_name",
    "password": "password",
    "disabled": "disabled",
    "user_group_ids": "group_ids",
}


def refused_user_attributes(error: InvalidRequest) -> set[str]:
    """The user attributes (:class:`~scim_proxy.directory.UserChanges` names) whose
    TelemetryTV fields a validation error names."""
    return {_USER_FIELDS[name] for name in error.fields if name in _USER_FIELDS}


def decode_json(content: bytes) -> Any:
    """Decode a response body, raising :class:`BadResponse` when it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise BadResponse("a body that is not JSON") from exc


def parse_total(headers: Mapping[str, str]) -> int | None:
    """The listing total from the paging header, or ``None`` when absent or unreadable."""
    raw = headers.get(TOTAL_HEADER)
    if raw is None:
        return None
    raw = raw.strip()
    # Plain ASCII digits only: int() would also take "+3", "1_000" and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _error_parts(body: bytes) -> tuple[str, dict[str, str]]:
    """TelemetryTV's message and per-field messages from an error body, if any."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return "", {}
    if not isinstance(data, dict):
        return "", {}
    message = data.get("error") or data.get("message") or ""
    fields: dict[str, str] = {}
    raw_fields = data.get("fields")
    items: list[Any] = []
    if isinstance(raw_fields, list):
        items = [f for f in raw_fields if isinstance(f, dict)]
    elif isinstance(raw_fields, dict):
        items = [raw_fields]
    for item in items:
        for name, text in item.items():
            if isinstance(text, list):
                text = "; ".join(str(t) for t in text)
            fields[str(name)] = str(text)
    return (message if isinstance(message, str) else str(message)), fields


def _taken_field(message: str, fields: Mapping[str, str]) -> str | None:
    """Which unique field (``email`` or ``name``) a message says is taken, if any."""
    for name, text in fields.items():
        if name in ("email", "name") and any(w in text.lower() for w in _TAKEN_WORDS):
            return name
    lowered = message.lower()
    if any(w in lowered for w in _TAKEN_WORDS):
        if "email" in lowered:
            return "email"
        if "name" in lowered:
            return "name"
    return None


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    """Turn a failed TelemetryTV response into the matching :class:`UpstreamError`.

    Its ``message`` is TelemetryTV's own text, empty when it sent none: the status says
    the rest, and whoever words the error adds nothing TelemetryTV did not say.
    """
    message, fields = _error_parts(body)
    if status >= 500:
        return ServerError(message, status=status)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return RateLimited(message, retry_after=retry_after)
    if status == 401:
        return Unauthorized(message, status=401)
    if status == 403:
        return Forbidden(message, status=403)
    if status == 404:
        return NotFound(message, status=404)
    taken = _taken_field(message, fields)
    if status == 409 or (status in (400, 422) and taken is not None):
        return Conflict(message, field=taken, status=status)
    if 400 <= status < 500:
        return InvalidRequest(message, fields=fields, status=status)
    return BadResponse(f"status {status}", status=status)


__all__ = [
    "TOTAL_HEADER",
    "decode_json",
    "error_from_response",
    "group_from_json",
    "new_user_json",
    "parse_retry_after",
    "parse_timestamp",
    "parse_total",
    "refused_user_attributes",
    "user_changes_json",
    "user_from_body",
    "user_from_json",
    "users_from_body",
]
