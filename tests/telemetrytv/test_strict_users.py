"""The strict reading of TelemetryTV users (msgspec, in C) equals the lenient one.

Whenever the strict decode of a body succeeds its users must be the lenient reading's,
and whenever it fails the lenient reading must decide (its users, or its BadResponse).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_proxy.directory import DirectoryUser
from scim_proxy.telemetrytv import BadResponse, wire
from tests.timestamp_spellings import own_spellings, spellings

_MISSING = object()

# Values of every JSON type, for fields given the wrong one.
_other_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.lists(st.integers(-100, 100), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(-100, 100), max_size=2),
)


_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=24)


def _optional(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A documented field: mostly there with its documented type, sometimes missing."""
    return st.one_of(value, value, value, st.just(_MISSING))


_FIELDS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "disabled",
    "user_group_ids",
    "created_at",
    "updated_at",
]

_documented = st.fixed_dictionaries(
    {
        "id": _ids,
        "email": _optional(st.emails()),
        "first_name": _optional(st.text(max_size=10)),
        "last_name": _optional(st.text(max_size=10)),
        "disabled": _optional(st.booleans()),
        "user_group_ids": _optional(st.lists(_ids, max_size=3)),
        # Any spelling: TelemetryTV's own, other valid ones, naive, broken.
        "created_at": _optional(st.one_of(own_spellings, spellings, st.none())),
        "updated_at": _optional(st.one_of(own_spellings, spellings, st.none())),
        # Fields the proxy does not read: TelemetryTV sends more than it documents.
        "role": _optional(st.text(max_size=5)),
        "settings": _optional(st.dictionaries(st.text(max_size=3), _other_values, max_size=2)),
    }
)

_damages = st.lists(
    st.one_of(
        # A field of the wrong type (a null name, a string "disabled", an empty id...).
        st.tuples(
            st.sampled_from(_FIELDS),
            st.one_of(st.none(), _other_values, st.just("")),
        ),
        # Group ids mixing other values among the strings.
        st.tuples(
            st.just("user_group_ids"),
            st.lists(st.one_of(_ids, _other_values), min_size=1, max_size=4),
        ),
        st.tuples(st.just("id"), st.just(_MISSING)),
    ),
    max_size=1,
)


def _damaged(obj: dict[str, Any], damages: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = {**obj, **dict(damages)}
    return {k: v for k, v in obj.items() if v is not _MISSING}


user_objects = st.builds(_damaged, _documented, _damages)
"""TelemetryTV user objects: documented, or with one field damaged."""


def _key(user: DirectoryUser) -> tuple[Any, ...]:
    """Every field, each timestamp with its offset (datetime equality ignores offsets)."""

    def instant(value: datetime | None) -> Any:
        return None if value is None else (value, value.utcoffset())

    return (
        user.id,
        user.email,
        user.given_name,
        user.family_name,
        user.disabled,
        user.group_ids,
        instant(user.created),
        instant(user.last_modified),
    )


def _outcome(read: Callable[[], Any]) -> Any:
    try:
        result = read()
    except BadResponse as error:
        return ("BadResponse", str(error))
    if isinstance(result, list):
        return [_key(u) for u in result]
    return _key(result)


def _lenient_page(content: bytes) -> list[DirectoryUser]:
    data = wire.decode_json(content)
    if not isinstance(data, list):
        raise BadResponse("a listing that is not an array")
    return [wire.user_from_json(u) for u in data]


def _strict_decodes(decode: Callable[[bytes], Any], content: bytes) -> bool:
    try:
        decode(content)
    except Exception:
        return False
    return True


def _lenient_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the lenient reading's calls of :func:`wire.user_from_json`."""
    calls: list[int] = []
    lenient = wire.user_from_json

    def counted(obj: Any) -> DirectoryUser:
        calls.append(1)
        return lenient(obj)

    monkeypatch.setattr(wire, "user_from_json", counted)
    return calls


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(user_objects, user_objects, user_objects, _other_values), max_size=4))
def test_a_page_reads_as_the_lenient_reading_reads_it(items: list[Any]) -> None:
    content = orjson.dumps(items)
    expected = _outcome(lambda: _lenient_page(content))
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = _lenient_calls(monkeypatch)
        assert _outcome(lambda: wire.users_from_body(content)) == expected
    # The strict reading decides alone exactly when it decodes the body.
    assert (not calls) == _strict_decodes(wire._users, content)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(user_objects, user_objects, user_objects, _other_values))
def test_a_single_user_reads_as_the_lenient_reading_reads_it(obj: Any) -> None:
    content = orjson.dumps(obj)
    expected = _outcome(lambda: wire.user_from_json(obj))
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = _lenient_calls(monkeypatch)
        assert _outcome(lambda: wire.user_from_body(content)) == expected
    assert (not calls) == _strict_decodes(wire._user, content)


def test_users_in_telemetrytvs_documented_shape_are_read_strictly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _lenient_calls(monkeypatch)
    body = [
        {
            "id": "u1",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "disabled": False,
            "user_group_ids": ["g1"],
            "created_at": "2026-11-29T21:00:00.123Z",
            "updated_at": "2026-11-29T22:00:00Z",
            "unknown": {"nested": [1, 2]},
        }
    ]
    (user,) = wire.users_from_body(orjson.dumps(body))
    assert calls == []
    assert user == wire.user_from_json(body[0])


@pytest.mark.parametrize(
    "damage",
    [
        {"first_name": None},
        {"last_name": 3},
        {"email": None},
        {"disabled": "false"},
        {"disabled": None},
        {"user_group_ids": ["g1", 2, None]},
        {"user_group_ids": None},
        {"created_at": "2026-11-29T21:00:00"},  # naive
        {"updated_at": "2026-11-29T24:00:00Z"},  # no such time
        {"created_at": ""},
        {"updated_at": 1764450000},
    ],
)
def test_a_user_outside_the_documented_shape_is_read_leniently(
    damage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _lenient_calls(monkeypatch)
    obj = {"id": "u1", "email": "ada@example.com", "first_name": "Ada", **damage}
    good = {"id": "u2", "created_at": "2026-11-29T21:00:00.123Z"}
    page = wire.users_from_body(orjson.dumps([good, obj]))
    assert len(calls) == 2  # the whole page, not only the odd user
    assert [_key(u) for u in page] == [_key(wire.user_from_json(o)) for o in (good, obj)]
    assert _key(wire.user_from_body(orjson.dumps(obj))) == _key(wire.user_from_json(obj))


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"id": "u1"}',
        b'[{"id": "u1", "x": "\xff"}]',  # invalid UTF-8 where msgspec does not look
        b'[{"id": "u1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]",
        b'[{"email": "ada@example.com"}]',
        b'[{"id": ""}]',
        b"[1]",
    ],
)
def test_a_body_the_lenient_reading_refuses_is_a_bad_response(content: bytes) -> None:
    with pytest.raises(BadResponse):
        wire.users_from_body(content)


@pytest.mark.parametrize(
    ("raw", "offset_minutes"),
    [
        ("2026-11-29T21:00:00.123Z", 0),
        ("2026-11-29t21:00:00z", 0),  # lower case: RFC 3339 allows it
        ("2026-11-29T21:00:00", 0),  # no zone: read as UTC
        ("2026-11-29T21:00:00.1234567+05:30", 330),  # rounded to microseconds
    ],
)
def test_both_readings_read_a_timestamp_alike(raw: str, offset_minutes: int) -> None:
    strict = wire.users_from_body(orjson.dumps([{"id": "u1", "created_at": raw}]))[0]
    lenient = wire.user_from_json({"id": "u1", "created_at": raw})
    assert strict.created == lenient.created
    assert strict.created is not None
    assert lenient.created is not None
    assert strict.created.utcoffset() == lenient.created.utcoffset()
    assert lenient.created.utcoffset().total_seconds() == offset_minutes * 60  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", ["2026-11-29T21:00:00+05:30:15", "2026-11-29T21:00:00-01:00:30.5"])
def test_an_offset_with_seconds_reads_as_absent_on_both_readings(raw: str) -> None:
    # Python's fromisoformat (the reading before issue 10's fifth round) took these, and
    # the response wrote the offset back with its seconds. RFC 3339 has no such offset,
    # and orjson, which now writes the meta timestamps, would drop the seconds and shift
    # the instant: such a text must stay absent, not reach the renderer.
    body = {"id": "u1", "created_at": raw, "updated_at": raw}
    (strict,) = wire.users_from_body(orjson.dumps([body]))
    for user in (strict, wire.user_from_body(orjson.dumps(body)), wire.user_from_json(body)):
        assert (user.created, user.last_modified) == (None, None)
    group = wire.group_from_json({"id": "g1", "created_at": raw, "updated_at": raw})
    assert (group.created, group.last_modified) == (None, None)


@pytest.mark.parametrize("number", [b"1e400", b"-1.8e308", b"1" + b"0" * 400])
def test_a_number_beyond_a_double_in_an_ignored_field_does_not_fail_the_body(
    number: bytes,
) -> None:
    # orjson refuses such a number (before the fifth round the whole body was a bad
    # response); msgspec skips an ignored field's value without converting it. Accepted:
    # only the proxy's reading of a field it never uses differs, and a guard scanning
    # every body for such numbers would cost more than the decode (docs/telemetrytv-api.md).
    obj = b'{"id": "u1", "email": "ada@example.com", "avatar_bytes": ' + number + b"}"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(obj)
    (user,) = wire.users_from_body(b"[" + obj + b"]")
    assert _key(user) == _key(wire.user_from_json({"id": "u1", "email": "ada@example.com"}))
    assert _key(wire.user_from_body(obj)) == _key(user)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # fromisoformat (before the fifth round) cut these to 21:00:00.999999.
        ("2026-11-29T21:00:00.9999999Z", datetime(2026, 11, 29, 21, 0, 1, tzinfo=UTC)),
        ("2026-11-29T21:00:00.1234567Z", datetime(2026, 11, 29, 21, 0, 0, 123457, tzinfo=UTC)),
        ("9999-12-31T23:59:59.9999999Z", None),  # rounds past the last datetime
    ],
)
def test_a_fraction_past_microseconds_is_rounded_alike_on_both_readings(
    raw: str, expected: datetime | None
) -> None:
    body = {"id": "u1", "created_at": raw}
    (strict,) = wire.users_from_body(orjson.dumps([body]))
    assert strict.created == wire.user_from_json(body).created == expected
