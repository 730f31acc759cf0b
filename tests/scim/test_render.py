"""Responses built without models are the JSON scim2-models dumps the models to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from scim2_models import Context

from scim_proxy.directory import DirectoryGroup, DirectoryUser
from scim_proxy.scim.render import JSON_OPTIONS, dump_resource
from scim_proxy.translation.group_attributes import group_document, group_resource
from scim_proxy.translation.user_attributes import user_document, user_documents, user_resource

BASE = "https://scim.example.com/scim/v2"
ids = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24)
names = st.text(max_size=20)
# Any instant, at any offset of whole minutes: the only ones a directory record holds.
instants = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
directory_users = st.builds(
    DirectoryUser,
    id=ids,
    email=st.emails(),
    given_name=names,
    family_name=names,
    disabled=st.booleans(),
    group_ids=st.lists(ids, max_size=3).map(tuple),
    created=st.none() | instants,
    last_modified=st.none() | instants,
)


def _json(document: Any) -> Any:
    """A document as a response carries it: encoded as every response is, and read back.

    The direct documents hold ``meta``'s datetimes for orjson to write, where
    scim2-models' dump holds their text: what is compared is what goes on the wire.
    """
    return orjson.loads(orjson.dumps(document, option=JSON_OPTIONS))


def _dumped(resource: Any) -> Any:
    return _json(dump_resource(resource, None, context=Context.RESOURCE_QUERY_RESPONSE))


@settings(max_examples=300, deadline=None)
@given(
    users=st.lists(directory_users, max_size=4),
    known=st.lists(st.booleans(), min_size=12, max_size=12),
    shown=st.booleans(),
    group=st.builds(
        DirectoryGroup, ids, names, st.booleans(), st.none() | instants, st.none() | instants
    ),
)
def test_direct_documents_are_the_json_scim2_models_dumps(
    users: list[DirectoryUser], known: list[bool], shown: bool, group: DirectoryGroup
) -> None:
    # Roles shown or not; of the users' groups some have a known name, some not (deleted
    # since the listing).
    group_ids = sorted({g for user in users for g in user.group_ids})
    names_shown = {g: f"Role {g[:4]}" for g, k in zip(group_ids, known, strict=False) if k}
    role_names = names_shown if shown else None
    page = user_documents(users, BASE, role_names)
    assert _json(page) == [_dumped(user_resource(user, BASE, role_names)) for user in users]
    assert page == [user_document(user, BASE, role_names) for user in users]
    assert _json(group_document(group, users, BASE)) == _dumped(group_resource(group, users, BASE))
