"""SCIM message envelopes the proxy writes: ListResponse (RFC 7644 §3.4.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import LIST_RESPONSE_SCHEMA


def list_response(
    resources: Sequence[dict[str, Any]], *, total: int, start_index: int
) -> dict[str, Any]:
    """A ListResponse; ``Resources`` is always present, empty when nothing matched."""
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources if isinstance(resources, list) else list(resources),
    }
