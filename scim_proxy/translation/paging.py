"""SCIM ``startIndex``/``count`` onto upstream ``page``/``per_page``.

With ``per_page`` equal to ``count``, the SCIM window ``[startIndex, startIndex+count)``
falls on at most two consecutive upstream pages, whatever ``startIndex`` is: one page
when it is aligned (Okta's 1, 101, 201...), two otherwise. A SCIM page therefore costs
one or two upstream calls, never a walk from the first page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..directory import Page

T = TypeVar("T")


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


async def scim_page(
    fetch: Callable[[int, int], Awaitable[Page[T]]], start_index: int, count: int
) -> tuple[list[T], int]:
    """One SCIM page from a paged upstream listing, and the listing's total.

    ``fetch(page, per_page)`` reads one upstream page. Without a total from upstream, the
    total claims one more page while pages come back full, so a client keeps paging until
    a short one.
    """
    pages = window(start_index, count)
    first = await fetch(pages.first_page, pages.per_page)
    items = list(first.items)
    if pages.pages == 2 and len(first.items) == pages.per_page:
        items += (await fetch(pages.first_page + 1, pages.per_page)).items
    chosen = items[pages.offset : pages.offset + count] if count else []
    total = first.total
    if total is None:
        seen = (pages.first_page - 1) * pages.per_page + len(items)
        total = seen + (pages.per_page if len(first.items) == pages.per_page else 0)
    return chosen, total
