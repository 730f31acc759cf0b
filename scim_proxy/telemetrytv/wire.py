"""TelemetryTV's JSON shapes: the only place that knows its field names.

Builds directory records from upstream JSON, upstream JSON from directory records, and
upstream errors from error responses.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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
    """Read an ISO 8601 timestamp; anything unreadable gives ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# TelemetryTV's own spelling of an instant: UTC, to the millisecond or the second
# ("2026-11-29T21:00:00.123Z"). ASCII digits only: \d would take other scripts' digits.
_UTC_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?Z")
_utc_text = _UTC_TEXT.fullmatch

# isinstance(x, str) as a function filter() calls without a Python frame per item.
_is_str = str.__instancecheck__


def read_timestamp(value: Any) -> tuple[datetime | None, str | None]:
    """A timestamp as :func:`parse_timestamp` reads it, and its :func:`instant_text`.

    The text is TelemetryTV's own when it spells the instant as UTC to the millisecond or
    the second: carried through (its milliseconds as microseconds, as ``isoformat`` writes
    them) instead of formatted again from the datetime, which is most of the cost of
    rendering a user (docs/performance.md). Any other spelling gives ``None`` for the
    text, and the datetime is formatted as before; tests hold the carried text equal to
    the datetime's over generated spellings.
    """
    if isinstance(value, str) and _utc_text(value):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:  # matched the shape, but no such time ("2026-02-30", "24:00")
            return None, None
        if len(value) == 20:  # to the second
            return instant, value
        if value.endswith(".000Z"):  # no fraction: isoformat leaves it out
            return instant, value[:19] + "Z"
        return instant, value[:23] + "000Z"
    return parse_timestamp(value), None


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def user_from_json(obj: Any) -> DirectoryUser:
    """Build a user from TelemetryTV's user object."""
    # Read once per user of every page: plain lookups rather than helpers (a page of 100
    # users builds 100 of these, docs/performance.md).
    if not isinstance(obj, dict):
        raise BadResponse("TelemetryTV returned a user without an id")
    get = obj.get
    user_id = get("id")
    if not isinstance(user_id, str) or not user_id:
        raise BadResponse("TelemetryTV returned a user without an id")
    email, first, last = get("email"), get("first_name"), get("last_name")
    group_ids = get("user_group_ids")
    created_at, updated_at = get("created_at"), get("updated_at")
    created, created_text = read_timestamp(created_at)
    # Never-updated users carry the same text twice: read it once (the same objects).
    if updated_at == created_at:
        updated, updated_text = created, created_text
    else:
        updated, updated_text = read_timestamp(updated_at)
    return DirectoryUser(
        user_id,
        email if isinstance(email, str) else "",
        first if isinstance(first, str) else "",
        last if isinstance(last, str) else "",
        get("disabled") is True,
        tuple(filter(_is_str, group_ids)) if isinstance(group_ids, list) and group_ids else (),
        created,
        updated,
        created_text,
        updated_text,
    )


def group_from_json(obj: Any) -> DirectoryGroup:
    """Build a group from TelemetryTV's user-group object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        raise BadResponse("TelemetryTV returned a user group without an id")
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


def decode_json(content: bytes) -> Any:
    """Decode a response body, raising :class:`BadResponse` when it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise BadResponse("TelemetryTV answered with a body that is not JSON") from exc


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
    """Turn a failed TelemetryTV response into the matching :class:`UpstreamError`."""
    message, fields = _error_parts(body)
    if status >= 500:
        return ServerError(message or f"TelemetryTV answered {status}", status=status)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return RateLimited(message or "TelemetryTV is rate limiting", retry_after=retry_after)
    if status == 401:
        return Unauthorized(message or "Unauthorized", status=401)
    if status == 403:
        return Forbidden(message or "Forbidden", status=403)
    if status == 404:
        return NotFound(message or "Not found", status=404)
    taken = _taken_field(message, fields)
    if status == 409 or (status in (400, 422) and taken is not None):
        return Conflict(message or "Already taken", field=taken, status=status)
    if 400 <= status < 500:
        return InvalidRequest(
            message or f"TelemetryTV answered {status}", fields=fields, status=status
        )
    return BadResponse(f"TelemetryTV answered with unexpected status {status}", status=status)


__all__ = [
    "TOTAL_HEADER",
    "decode_json",
    "error_from_response",
    "group_from_json",
    "new_user_json",
    "parse_retry_after",
    "parse_timestamp",
    "parse_total",
    "read_timestamp",
    "user_changes_json",
    "user_from_json",
]
