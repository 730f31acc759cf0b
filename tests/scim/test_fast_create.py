"""The fast reading of a user-creation body is scim2-models' reading, or steps aside."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from structlog.testing import capture_logs

from scim_proxy.ops.context import start_request_stats
from scim_proxy.scim.dropped import unstorable_attributes
from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.fast_create import read_new_user, unstored_in_new_user
from scim_proxy.scim.models import USER_SCHEMA, User, UserEmail, UserName
from scim_proxy.scim.payloads import read_resource, read_user_creation
from tests.conftest import fixture

anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.lists(st.text(max_size=4))
)
texts = st.text(max_size=20)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the expected type, sometimes anything (which must fall back)."""
    return st.one_of(strategy, strategy, strategy, anything)


names = maybe(
    st.dictionaries(
        st.sampled_from(["givenName", "familyName", "formatted", "givenname"]), maybe(texts)
    )
)
emails = maybe(
    st.lists(
        st.dictionaries(
            st.sampled_from(["value", "type", "primary", "display"]),
            st.one_of(texts, st.booleans()),
        ),
        max_size=3,
    )
)
bodies = st.fixed_dictionaries(
    {"userName": maybe(st.emails() | texts)},
    optional={
        "schemas": st.sampled_from(
            [[USER_SCHEMA], [], [USER_SCHEMA, "urn:x"], [USER_SCHEMA.upper()], USER_SCHEMA]
        ),
        "name": names,
        "emails": emails,
        "password": maybe(texts),
        "active": maybe(st.booleans()),
        "externalId": maybe(texts),
        "displayName": maybe(texts),
        "groups": st.sampled_from([[], [{"value": "g1"}], None]),
        "locale": maybe(texts),
        "nickName": texts,
        "UserName": texts,
    },
)

# The common shape itself, each part well-formed: most of these take the fast reading.
common_bodies = st.fixed_dictionaries(
    {"schemas": st.just([USER_SCHEMA]), "userName": st.emails() | texts},
    optional={
        "name": st.dictionaries(st.sampled_from(["givenName", "familyName"]), texts),
        "emails": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "value": st.emails() | texts,
                    "type": st.sampled_from(["work", "home", "Work", ""]),
                    "primary": st.booleans(),
                },
            ),
            max_size=3,
        ),
        "password": texts,
        "active": st.booleans(),
        "externalId": texts,
        "displayName": texts,
        "groups": st.just([]),
        "locale": texts,
    },
)
any_bodies = st.one_of(common_bodies, bodies)


def _same(fast: Any, slow: Any) -> None:
    """Equal values, and the same fields set and private state, all the way down."""
    assert type(fast) is type(slow)
    if isinstance(slow, BaseModel):
        assert fast.model_fields_set == slow.model_fields_set
        assert fast.__pydantic_private__ == slow.__pydantic_private__
        assert fast.__pydantic_extra__ == slow.__pydantic_extra__
        assert list(fast.__dict__) == list(slow.__dict__)
        for field in type(slow).model_fields:
            _same(getattr(fast, field), getattr(slow, field))
    elif isinstance(slow, list):
        assert len(fast) == len(slow)
        for a, b in zip(fast, slow, strict=True):
            _same(a, b)
    else:
        assert fast == slow


@settings(max_examples=1000, deadline=None)
@given(any_bodies)
def test_a_body_read_fast_is_the_user_scim2_models_reads(body: dict[str, Any]) -> None:
    fast = read_new_user(body)
    if fast is None:
        return
    slow = read_resource(User, body, replacing=False)
    assert fast == slow
    _same(fast, slow)


@settings(max_examples=1000, deadline=None)
@given(any_bodies)
def test_a_body_scim2_models_refuses_is_never_read_fast(body: dict[str, Any]) -> None:
    try:
        read_resource(User, body, replacing=False)
    except ScimError:
        assert read_new_user(body) is None


def test_okta_and_the_bench_create_bodies_take_the_fast_reading() -> None:
    okta = fixture("okta/create-user")
    bench = {
        "schemas": [USER_SCHEMA],
        "userName": "p1@example.com",
        "name": {"givenName": "Bench", "familyName": "User"},
        "password": "Bench-pw-1!",
    }
    for body in (okta, bench):
        fast = read_new_user(body)
        assert fast is not None
        _same(fast, read_resource(User, body, replacing=False))


def test_entra_create_body_with_its_extension_goes_through_scim2_models() -> None:
    assert read_new_user(fixture("entra/create-user")) is None


@settings(max_examples=1000, deadline=None)
@given(any_bodies)
def test_a_body_read_fast_drops_the_attributes_the_general_check_finds(
    body: dict[str, Any],
) -> None:
    if read_new_user(body) is None:
        return
    assert unstored_in_new_user(body) == unstorable_attributes("User", body)


@settings(max_examples=500, deadline=None)
@given(any_bodies)
def test_reading_a_creation_logs_and_counts_dropped_attributes_as_the_model_path_does(
    body: dict[str, Any],
) -> None:
    def read(reader: Any) -> tuple[Any, list[dict[str, Any]], list[str]]:
        stats = start_request_stats()
        with capture_logs() as logs:
            try:
                reader(body)
            except ScimError as exc:
                return exc.status, logs, stats.quirks
        return None, logs, stats.quirks

    assert read(read_user_creation) == read(lambda b: read_resource(User, b, replacing=False))


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["given_name", "family_name"]), texts),
    st.dictionaries(st.sampled_from(["value", "type", "primary"]), st.one_of(texts, st.booleans())),
    st.dictionaries(
        st.sampled_from(["user_name", "password", "active", "external_id", "display_name"]),
        st.one_of(st.none(), texts, st.booleans()),
    ),
)
def test_the_direct_construction_is_pydantic_s_model_construct(
    name: dict[str, Any], email: dict[str, Any], user: dict[str, Any]
) -> None:
    from scim_proxy.scim.fast_create import _EMAIL, _NAME, _USER

    _same(_NAME.construct(dict(name)), UserName.model_construct(**name))
    _same(_EMAIL.construct(dict(email)), UserEmail.model_construct(**email))
    _same(_USER.construct(dict(user)), User.model_construct(**user))
    with_schemas = {**user, "schemas": [USER_SCHEMA]}
    _same(_USER.construct(dict(with_schemas)), User.model_construct(**with_schemas))
