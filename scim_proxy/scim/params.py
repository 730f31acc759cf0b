"""Query parameters of SCIM reads: paging (RFC 7644 §3.4.2.4) and attribute selection (§3.9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import Resource, ResponseParameters

from .errors import ScimError, invalid_value


def response_parameters(
    model: type[Resource[Any]], query: Mapping[str, str]
) -> ResponseParameters[Any] | None:
    """The ``attributes``/``excludedAttributes`` selection, or ``None`` when absent."""
    attributes = _param(query, "attributes")
    excluded = _param(query, "excludedAttributes")
    if attributes is None and excluded is None:
        return None
    try:
        return ResponseParameters[model].model_validate(  # type: ignore[valid-type]
            {"attributes": attributes, "excludedAttributes": excluded}
        )
    except ValidationError as exc:
        raise ScimError.from_validation_error(
            exc,
            what="The attributes or excludedAttributes parameter",
            reason="invalid_query_parameter",
        ) from exc


def returns_attribute(params: ResponseParameters[Any] | None, name: str) -> bool:
    """Whether a response shaped by ``params`` carries the top-level attribute ``name``.

    Lets a caller skip fetching what the client left out (Entra's
    ``excludedAttributes=members``).
    """
    if params is None:
        return True
    wanted = name.lower()

    def top(path: object) -> str:
        # "urn:...:Group:members.value" -> "members"
        return str(path).lower().rsplit(":", 1)[-1].split(".", 1)[0]

    if params.attributes:
        return any(top(p) == wanted for p in params.attributes)
    return not any(
        str(p).lower().rsplit(":", 1)[-1] == wanted for p in params.excluded_attributes or []
    )


def _param(query: Mapping[str, str], name: str) -> str | None:
    """A query parameter by case-insensitive name (RFC 7644 §3.4.2 names are case-insensitive)."""
    if name in query:
        return query[name]
    lowered = name.lower()
    for key, value in query.items():
        if key.lower() == lowered:
            return value
    return None


def _integer(query: Mapping[str, str], name: str) -> int | None:
    raw = _param(query, name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise invalid_value(
            f"{name} must be an integer, got {raw[:40]!r}", "invalid_query_parameter"
        ) from None


_LARGEST_INDEX = 2**31 - 1
"""Larger startIndex values are read as this (no listing is that long)."""


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a list request asks for."""

    filter: str | None
    start_index: int
    """1-based index of the first result."""
    count: int
    """How many results at most; 0 asks only for the total."""


def list_query(query: Mapping[str, str], *, default_count: int, max_count: int) -> ListQuery:
    """Read a list request's ``filter``, ``startIndex`` and ``count``.

    Out-of-range values are brought into range as RFC 7644 §3.4.2.4 says: a
    ``startIndex`` below 1 means 1, a negative ``count`` means 0, and a ``count`` above
    the maximum gets the maximum.
    """
    start = _integer(query, "startIndex")
    count = _integer(query, "count")
    if start is not None:
        start = min(start, _LARGEST_INDEX)
    filter_text = _param(query, "filter")
    return ListQuery(
        filter=filter_text if filter_text and filter_text.strip() else None,
        start_index=max(1, start) if start is not None else 1,
        count=default_count if count is None else min(max(0, count), max_count),
    )
