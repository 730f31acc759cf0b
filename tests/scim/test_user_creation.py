"""The common POST /Users body, read directly, asks for what scim2-models reads from it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from scim_proxy.ops.context import start_request_stats
from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.models import USER_SCHEMA, User
from scim_proxy.scim.payloads import (
    UserCreation,
    common_user_creation,
    read_resource,
    read_user_creation,
)
from tests.conftest import fixture

texts = st.text(max_size=8)
entry = st.fixed_dictionaries(
    {"value": st.emails() | texts},
    optional={"type": st.sampled_from(["work", "home", "Work", ""]), "primary": st.booleans()},
)
common = st.fixed_dictionaries(
    {"schemas": st.just([USER_SCHEMA]), "userName": st.emails() | st.text(min_size=1)},
    optional={
        "name": st.dictionaries(st.sampled_from(["givenName", "familyName"]), texts),
        "emails": st.lists(entry, max_size=3).filter(
            lambda entries: sum(e.get("primary") is True for e in entries) <= 1
        ),
        "password": texts,
        "active": st.booleans(),
        "externalId": texts,
        "displayName": texts,
        "groups": st.just([]),
        "locale": texts,
    },
)
"""Bodies of the common shape: each is read directly."""


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()
NEAR_MISSES = [
    *[("schemas", v) for v in (ABSENT, [USER_SCHEMA.upper()], [USER_SCHEMA, "urn:x"])],
    *[("userName", v) for v in (ABSENT, "", None, 1)],
    *[(k, "a@example.com") for k in ("UserName", "nickName", f"{USER_SCHEMA}:userName")],
    ("roles", [{"value": "g1"}]),
    *[("password", v) for v in (None, 1)],
    *[("active", v) for v in (None, "true", 1)],
    *[(k, v) for k in ("externalId", "displayName", "locale") for v in (None, 1, "")],
    *[("groups", v) for v in (None, {}, [{"value": "g1"}], [[]])],
    *[("name", v) for v in (None, "A B", [], {"givenName": 1}, {"givenName": None})],
    *[("name", v) for v in ({"formatted": "A B"}, {"givenname": "a"})],
    *[("emails", v) for v in (None, "a@x", {}, ["a@x"], [None], [{"value": 1}])],
    *[("emails", [{"value": "a@x", k: v}]) for k, v in (("primary", "true"), ("type", None))],
    ("emails", [{"value": "a@x", "display": "A"}]),
    ("emails", [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}]),
]
"""One key of a common body added, taken out or changed: mostly refused, or read slowly."""


def _changed(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = {**body, key: value}
    if value is ABSENT:
        del changed[key]
    return changed


def _outcome(reader: Any, body: dict[str, Any]) -> tuple[Any, ...]:
    """What the creation asks for, or the refusal, and what was logged."""
    stats = start_request_stats()
    with capture_logs() as logs:
        try:
            creation = reader(body)
        except ScimError as error:
            return (error.status, error.detail), logs, stats.quirks
    return creation, logs, stats.quirks


@pytest.mark.parametrize("change", [None, *NEAR_MISSES], ids=repr)
@settings(max_examples=15, deadline=None)
@given(body=common)
@example(body=fixture("okta/create-user"))
def test_a_creation_body_reads_as_scim2_models_reads_it(
    change: tuple[str, Any] | None, body: dict[str, Any]
) -> None:
    if change is None:
        assert common_user_creation(body) is not None
    else:
        body = _changed(body, *change)
    assert _outcome(read_user_creation, body) == _outcome(
        lambda b: UserCreation.of(read_resource(User, b, replacing=False)), body
    )
