"""The model-free JSON equals scim2-models' own dump, for any user or group the proxy builds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from scim2_models import Context

from scim_proxy.directory import DirectoryGroup, DirectoryUser
from scim_proxy.translation.group_mapping import group_document, group_resource
from scim_proxy.translation.user_mapping import user_document, user_resource

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


@settings(max_examples=200, deadline=None)
@given(directory_users)
def test_the_model_free_user_document_is_the_same_json(user: DirectoryUser) -> None:
    resource = user_resource(user, BASE)
    assert user_document(user, BASE) == resource.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE
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
    assert user_document(user, BASE, role_names) == resource.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE
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
    same = replace(user, created=instant, last_modified=instant)
    assert user_document(same, BASE) == user_resource(same, BASE).model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )
