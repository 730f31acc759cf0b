"""The model-free JSON equals scim2-models' own dump, for any user or group the proxy builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from scim2_models import Context

from scim_proxy.directory import DirectoryGroup, DirectoryUser, instant_text
from scim_proxy.scim.render import JSON_OPTIONS
from scim_proxy.telemetrytv.wire import user_from_json
from scim_proxy.translation.group_mapping import group_document, group_resource
from scim_proxy.translation.user_mapping import user_document, user_documents, user_resource
from tests.timestamp_spellings import spellings

BASE = "https://scim.example.com/scim/v2"
ids = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24)
names = st.text(max_size=20)
times = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)


directory_users = st.builds(
    DirectoryUser,
    id=ids,
    email=st.emails(),
    given_name=names,
    family_name=names,
    disabled=st.booleans(),
    group_ids=st.lists(ids, max_size=4).map(tuple),
    created=times,
    last_modified=times,
)


def _json(document: Any) -> Any:
    """A document as a SCIM response carries it: encoded as the responses are, read back.

    The fast documents hold ``meta``'s timestamps as datetimes for orjson to write, where
    scim2-models' dump holds text; "the same JSON" compares what goes on the wire.
    """
    return orjson.loads(orjson.dumps(document, option=JSON_OPTIONS))


@settings(max_examples=200, deadline=None)
@given(directory_users)
def test_the_model_free_user_document_is_the_same_json(user: DirectoryUser) -> None:
    resource = user_resource(user, BASE)
    assert _json(user_document(user, BASE)) == _json(
        resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    )


@settings(max_examples=200, deadline=None)
@given(directory_users, st.dictionaries(ids, names, max_size=4), st.data())
def test_the_model_free_user_document_with_roles_is_the_same_json(
    user: DirectoryUser, extra_names: dict[str, str], data: st.DataObject
) -> None:
    # Some of the user's groups have a known name, some not (deleted since the listing).
    known = (
        data.draw(st.lists(st.sampled_from(user.group_ids), unique=True)) if user.group_ids else []
    )
    role_names = {**extra_names, **{g: f"Group {g[:4]}" for g in known}}
    resource = user_resource(user, BASE, role_names)
    assert _json(user_document(user, BASE, role_names)) == _json(
        resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    )


@settings(max_examples=100, deadline=None)
@given(ids, names, times, st.lists(directory_users, max_size=5))
def test_the_model_free_group_document_is_the_same_json(
    group_id: str, name: str, created: datetime | None, members: list[DirectoryUser]
) -> None:
    group = DirectoryGroup(group_id, name, False, created, created)
    resource = group_resource(group, members, BASE)
    assert group_document(group, members, BASE) == resource.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )


@settings(max_examples=100, deadline=None)
@given(
    directory_users,
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.timezones(),
    ),
)
def test_a_user_created_and_modified_at_one_instant_is_the_same_json(
    user: DirectoryUser, instant: datetime
) -> None:
    # The adapter hands both timestamps as one object when TelemetryTV gave one text.
    same = msgspec.structs.replace(user, created=instant, last_modified=instant)
    assert _json(user_document(same, BASE)) == _json(
        user_resource(same, BASE).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    )


@settings(max_examples=300, deadline=None)
@given(spellings, spellings, st.booleans(), st.dictionaries(ids, names, max_size=2))
def test_a_user_read_from_telemetrytv_is_the_same_json(
    created: str, updated: str, same: bool, role_names: dict[str, str]
) -> None:
    # Timestamps in any spelling, read or absent (unreadable): scim2-models' dump either way.
    user = user_from_json(
        {
            "id": "6566a1b2c3d4e5f6a7b8c9d0",
            "email": "ada@example.com",
            "first_name": "Ada",
            "user_group_ids": [*list(role_names)[:1], "0123456789abcdef01234567"],
            "created_at": created,
            "updated_at": created if same else updated,
        }
    )
    for names_shown in (None, role_names):
        assert _json(user_document(user, BASE, names_shown)) == _json(
            user_resource(user, BASE, names_shown).model_dump(
                scim_ctx=Context.RESOURCE_QUERY_RESPONSE
            )
        )


@settings(max_examples=50, deadline=None)
@given(st.lists(directory_users, max_size=5), st.dictionaries(ids, names, max_size=4))
def test_a_page_of_users_is_each_users_json(
    users: list[DirectoryUser], role_names: dict[str, str]
) -> None:
    for names_shown in (None, role_names):
        assert user_documents(users, BASE, names_shown) == [
            user_document(user, BASE, names_shown) for user in users
        ]


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31), timezones=st.just(UTC)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_an_instant_is_encoded_as_scim2_models_writes_it(instant: datetime, minutes: int) -> None:
    # Any offset of whole minutes (the only ones msgspec reads, and TelemetryTV's UTC).
    for moment in (instant, instant.astimezone(timezone(timedelta(minutes=minutes)))):
        assert orjson.dumps(moment, option=JSON_OPTIONS).decode() == f'"{instant_text(moment)}"'
