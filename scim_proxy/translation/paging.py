"""SCIM ``startIndex``/``count`` onto upstream ``page``/``per_page``.

With ``per_page`` equal to ``count``, the SCIM window ``[startIndex, startIndex+count)``
falls on at most two consecutive upstream pages, whatever ``startIndex`` is: one page
when it is aligned (Okta's 1, 101, 201...), two otherwise. A SCIM page therefore costs
one or two upstream calls, never a walk from the first page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """The upstream pages covering one SCIM page, and where in them it starts."""

    per_page: int
    first_page: int
    pages: int
    offset: int
    """How many items of the first page come before the SCIM window."""


def window(start_index: int, count: int) -> Window:
    """The upstream pages to fetch for a SCIM page (``count`` of 0 asks for the total only)."""
    if count <= 0:
        return Window(per_page=1, first_page=1, pages=1, offset=0)
    skipped = start_index - 1
    offset = skipped % count
    return Window(
        per_page=count,
        first_page=skipped // count + 1,
        pages=1 if offset == 0 else 2,
        offset=offset,
    )
