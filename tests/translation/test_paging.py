"""SCIM startIndex/count mapped onto at most two upstream pages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scim_proxy.translation.paging import Window, window


def test_aligned_start_needs_one_page() -> None:
    assert window(1, 100) == Window(per_page=100, first_page=1, pages=1, offset=0)
    assert window(201, 100) == Window(per_page=100, first_page=3, pages=1, offset=0)


def test_unaligned_start_needs_two_pages() -> None:
    assert window(5, 10) == Window(per_page=10, first_page=1, pages=2, offset=4)
    assert window(150, 100) == Window(per_page=100, first_page=2, pages=2, offset=49)


def test_count_of_one_is_always_one_page() -> None:
    assert window(37, 1) == Window(per_page=1, first_page=37, pages=1, offset=0)


def test_count_zero_asks_for_the_smallest_page_only() -> None:
    assert window(1, 0) == Window(per_page=1, first_page=1, pages=1, offset=0)
    assert window(500, 0) == Window(per_page=1, first_page=1, pages=1, offset=0)


def _fetch(items: list[int], page: int, per_page: int) -> list[int]:
    """What an upstream listing answers for ``page`` (1-based) of ``per_page``."""
    return items[(page - 1) * per_page : page * per_page]


@given(
    start_index=st.integers(min_value=1, max_value=5_000),
    count=st.integers(min_value=1, max_value=1_000),
    size=st.integers(min_value=0, max_value=5_000),
)
def test_fetched_pages_hold_exactly_the_scim_window(
    start_index: int, count: int, size: int
) -> None:
    items = list(range(size))
    w = window(start_index, count)
    assert w.per_page == count
    assert w.first_page >= 1
    assert 1 <= w.pages <= 2
    assert 0 <= w.offset < w.per_page
    fetched: list[int] = []
    for page in range(w.first_page, w.first_page + w.pages):
        fetched += _fetch(items, page, w.per_page)
    expected = items[start_index - 1 : start_index - 1 + count]
    assert fetched[w.offset : w.offset + count] == expected
