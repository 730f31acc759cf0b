"""TelemetryTV's JSON shapes read into directory records, and its paging/retry headers."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_proxy.telemetrytv import BadResponse
from scim_proxy.telemetrytv.wire import (
    TOTAL_HEADER,
    group_from_json,
    parse_retry_after,
    parse_timestamp,
    parse_total,
    user_from_json,
)

FULL_USER = {
    "id": "u1",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "user_group_ids": ["g1", "g2"],
    "disabled": True,
    "created_at": "2024-01-02T03:04:05Z",
    "updated_at": "2024-02-03T04:05:06.789Z",
}

NOW = 1_700_000_000.0


# -- users ---------------------------------------------------------------------------


def test_full_user_object_is_read_field_by_field() -> None:
    user = user_from_json(FULL_USER)
    assert user.id == "u1"
    assert user.email == "ada@example.com"
    assert (user.given_name, user.family_name) == ("Ada", "Lovelace")
    assert user.group_ids == ("g1", "g2")
    assert user.disabled is True
    assert user.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert user.last_modified == datetime(2024, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


def test_user_with_only_an_id_gets_empty_defaults() -> None:
    user = user_from_json({"id": "u1"})
    assert (user.email, user.given_name, user.family_name) == ("", "", "")
    assert user.group_ids == ()
    assert user.disabled is False
    assert user.created is None
    assert user.last_modified is None


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        ("email", 42, "email", ""),
        ("first_name", None, "given_name", ""),
        ("last_name", ["L"], "family_name", ""),
        ("disabled", "true", "disabled", False),
        ("disabled", 1, "disabled", False),
        ("user_group_ids", "g1", "group_ids", ()),
        ("user_group_ids", {"g1": True}, "group_ids", ()),
        ("user_group_ids", ["g1", 2, None, "g3"], "group_ids", ("g1", "g3")),
        ("created_at", 1704164645, "created", None),
        ("created_at", "yesterday", "created", None),
        ("created_at", "", "created", None),
        ("updated_at", None, "last_modified", None),
    ],
)
def test_user_fields_of_the_wrong_type_are_ignored(
    field: str, value: Any, attribute: str, expected: Any
) -> None:
    user = user_from_json({**FULL_USER, field: value})
    assert getattr(user, attribute) == expected


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        "u1",
        {},
        {"id": ""},
        {"id": 42},
        {"id": None, "email": "a@b.c"},
        {"email": "ada@example.com"},
    ],
)
def test_user_without_a_string_id_is_a_bad_response(obj: Any) -> None:
    with pytest.raises(BadResponse):
        user_from_json(obj)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05+00:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            "2024-01-02T05:04:05+02:00",
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_timestamps_are_timezone_aware(raw: str, expected: datetime) -> None:
    created = user_from_json({"id": "u1", "created_at": raw}).created
    assert created == expected
    assert created is not None
    assert created.tzinfo is not None


# -- groups --------------------------------------------------------------------------


def test_group_object_is_read_field_by_field() -> None:
    group = group_from_json(
        {
            "id": "g1",
            "name": "Admin",
            "built_in": True,
            "created_at": "2024-01-02T03:04:05Z",
            "updated_at": "2024-01-03T03:04:05Z",
        }
    )
    assert (group.id, group.name, group.built_in) == ("g1", "Admin", True)
    assert group.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert group.last_modified == datetime(2024, 1, 3, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("obj", "name", "built_in"),
    [
        ({"id": "g1"}, "", False),
        ({"id": "g1", "name": 5, "built_in": "true"}, "", False),
        ({"id": "g1", "name": "Ops", "built_in": 1}, "Ops", False),
    ],
)
def test_group_fields_missing_or_of_the_wrong_type_get_defaults(
    obj: dict[str, Any], name: str, built_in: bool
) -> None:
    group = group_from_json(obj)
    assert (group.name, group.built_in) == (name, built_in)
    assert group.created is None


@pytest.mark.parametrize("obj", [None, [], {}, {"id": ""}, {"id": 7}, {"name": "Ops"}])
def test_group_without_a_string_id_is_a_bad_response(obj: Any) -> None:
    with pytest.raises(BadResponse):
        group_from_json(obj)


# -- Retry-After ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_delta_seconds(raw: str | None, expected: float | None) -> None:
    assert parse_retry_after(raw, now=NOW) == expected


def test_retry_after_http_date_is_seconds_from_now() -> None:
    raw = email.utils.formatdate(NOW + 90, usegmt=True)
    assert parse_retry_after(raw, now=NOW) == pytest.approx(90)


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    raw = email.utils.formatdate(NOW - 600, usegmt=True)
    assert parse_retry_after(raw, now=NOW) == 0.0


@pytest.mark.parametrize("raw", ["soon", "Wed, 99 Foo 2015", "7 seconds"])
def test_unreadable_retry_after_is_none(raw: str) -> None:
    assert parse_retry_after(raw, now=NOW) is None


# -- Total-Records-Count -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({TOTAL_HEADER: "0"}, 0),
        ({TOTAL_HEADER: "1234"}, 1234),
        ({TOTAL_HEADER: " 12 "}, 12),
        ({}, None),
        ({TOTAL_HEADER: ""}, None),
        ({TOTAL_HEADER: "-1"}, None),
        ({TOTAL_HEADER: "12.5"}, None),
        ({TOTAL_HEADER: "twelve"}, None),
        ({TOTAL_HEADER: "12, 13"}, None),
    ],
)
def test_total_is_read_from_the_paging_header(
    headers: dict[str, str], expected: int | None
) -> None:
    assert parse_total(headers) == expected


@pytest.mark.parametrize("raw", ["1_000", "+3", "\u0661\u0662"])
def test_total_that_is_not_plain_digits_is_unreadable(raw: str) -> None:
    assert parse_total({TOTAL_HEADER: raw}) is None


timestamp_texts = st.one_of(
    st.sampled_from(["", "not a time", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5+02:00"]),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(datetime.isoformat),
    st.none(),
    st.integers(),
)


@settings(max_examples=200, deadline=None)
@given(timestamp_texts, timestamp_texts, st.booleans())
def test_user_timestamps_read_as_each_text_alone(created: Any, updated: Any, same: bool) -> None:
    # One text given twice is parsed once; the result must not differ from two parses.
    updated = created if same else updated
    user = user_from_json({"id": "u1", "created_at": created, "updated_at": updated})
    assert user.created == parse_timestamp(created)
    assert user.last_modified == parse_timestamp(updated)
    if user.last_modified is not None:
        assert user.last_modified.utcoffset() == parse_timestamp(updated).utcoffset()
