"""Property-based tests (hypothesis) of the filter, PATCH and mapping code (issue 4, item 5).

Each property says what must hold for *any* input: arbitrary text, arbitrary JSON, or
well-formed input from a grammar. Failures the properties found, since fixed, are kept at
the end of the module as minimal reproductions. ``HOSTILE_MAX_EXAMPLES`` runs more
examples than the default 200.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import PatchOp
from structlog.testing import capture_logs

from scim_proxy.directory import DirectoryUser, NewUser
from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.filters import equality_lookups, parse_filter
from scim_proxy.scim.models import (
    GROUP_READ_ONLY,
    GROUP_SCHEMA,
    PATCH_OP_SCHEMA,
    USER_READ_ONLY,
    USER_SCHEMA,
    Group,
    User,
    UserEmail,
    UserName,
)
from scim_proxy.scim.payloads import UserCreation, read_patch
from scim_proxy.translation.group_patch import GroupChange, group_change
from scim_proxy.translation.groups import GROUP_FILTER_ATTRIBUTES, GROUP_LOOKUP_KEYS
from scim_proxy.translation.user_attributes import (
    chosen_email,
    new_user,
    user_resource,
    user_update,
)
from scim_proxy.translation.users import USER_FILTER_ATTRIBUTES, USER_LOOKUP_KEYS

PROPERTY = settings(
    max_examples=int(os.environ.get("HOSTILE_MAX_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
BASE = "https://proxy.example/scim/v2"

# -- strategies ------------------------------------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)

plain_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'),
    max_size=16,
)
"""Strings that appear verbatim inside a quoted filter value (no quote, backslash, control)."""

emails = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", plain_text, plain_text),
)

filter_tokens = st.sampled_from(
    [
        "userName",
        "emails",
        "[",
        "]",
        "(",
        ")",
        '"',
        "'",
        "\\",
        ".",
        "value",
        "type",
        "eq",
        "ne",
        "co",
        "pr",
        "gt",
        "and",
        "or",
        "not",
        " ",
        '"x"',
        "true",
        "null",
        "1",
        "meta.created",
        "members",
        "id",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "\\ud800",
        "\x00",
    ]
)
filter_like_text = st.one_of(
    st.text(max_size=200),
    st.lists(filter_tokens, max_size=30).map("".join),
    st.lists(filter_tokens, max_size=30).map(" ".join),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)
"""Any value ``orjson.loads`` can produce."""

PATCH_OPS = ["add", "remove", "replace", "Add", "REPLACE", "Remove", "move", "test", "", "delete"]
PATCH_PATHS = [
    "members",
    "Members",
    f"{GROUP_SCHEMA}:members",
    'members[value eq "u1"]',
    'members[value eq "u1" or value eq "u2"]',
    'members[value ne "u1"]',
    "members[value pr]",
    'members[display eq "x"]',
    'members[not (value eq "u1")]',
    'members[value eq "u1"].display',
    "members.value",
    "displayName",
    f"{GROUP_SCHEMA}:displayName",
    "id",
    "meta",
    "externalId",
    "userName",
    "active",
    "name.givenName",
    'emails[type eq "work"].value',
    'emails[type eq "work"',
    "emails",
    "groups",
    "password",
    "x.y.z",
    "urn:evil:x",
    "]",
    "",
]
"""Hostile and ordinary paths."""

operations = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "op": st.one_of(st.sampled_from(PATCH_OPS), json_scalars),
            "path": st.one_of(
                st.sampled_from(PATCH_PATHS), st.text(min_size=1, max_size=20), json_scalars
            ),
            "value": json_values,
        },
    ),
)
patch_bodies = st.one_of(
    st.dictionaries(st.text(max_size=12), json_values, max_size=5),
    st.fixed_dictionaries(
        {"Operations": st.one_of(st.lists(operations, max_size=4), json_values)},
        optional={
            "schemas": st.one_of(st.just([PATCH_OP_SCHEMA]), json_values),
            "id": json_values,
        },
    ),
)

# A well-formed filter grammar over the Users attributes. Each strategy yields the
# filter's text and the string values it compares with.

Filter = tuple[str, frozenset[str]]

STRING_ATTRIBUTES = [
    "id",
    "userName",
    "displayName",
    "name.givenName",
    "name.familyName",
    "emails.value",
    "emails.type",
    "groups.value",
    f"{USER_SCHEMA}:userName",
    "USERNAME",
]
STRING_OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ"]
ALL_ATTRIBUTES = [
    *STRING_ATTRIBUTES,
    "active",
    "emails.primary",
    "meta.created",
    "meta.lastModified",
    "name",
    "emails",
    "groups",
]


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def comparisons(values: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    """``attr op value`` with a value of the attribute's type, or ``attr pr``."""
    strings = st.builds(
        lambda attribute, op, value: (f"{attribute} {op} {_quoted(value)}", frozenset([value])),
        st.sampled_from(STRING_ATTRIBUTES),
        st.sampled_from(STRING_OPERATORS),
        values,
    )
    booleans: st.SearchStrategy[Filter] = st.builds(
        lambda attribute, op, value: (f"{attribute} {op} {str(value).lower()}", frozenset()),
        st.sampled_from(["active", "emails.primary"]),
        st.sampled_from(["eq", "ne"]),
        st.booleans(),
    )
    dates: st.SearchStrategy[Filter] = st.builds(
        lambda attribute, op, when: (f'{attribute} {op} "{when}"', frozenset()),
        st.sampled_from(["meta.created", "meta.lastModified"]),
        st.sampled_from(["eq", "gt", "ge", "lt", "le"]),
        st.sampled_from(["2020-01-01T00:00:00Z", "2031-12-31T23:59:59.999Z"]),
    )
    present = st.sampled_from(ALL_ATTRIBUTES).map(lambda a: (f"{a} pr", frozenset[str]()))
    return st.one_of(strings, booleans, dates, present)


def value_paths(values: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    """``emails[...]`` and ``emails[...].value eq ...`` value paths."""
    inner = st.one_of(
        st.builds(
            lambda sub, op, value: (f"{sub} {op} {_quoted(value)}", frozenset([value])),
            st.sampled_from(["value", "type"]),
            st.sampled_from(STRING_OPERATORS),
            values,
        ),
        st.builds(lambda flag: (f"primary eq {str(flag).lower()}", frozenset()), st.booleans()),
    )
    inner_filters = st.recursive(
        inner,
        lambda children: st.builds(
            lambda a, joiner, b: (f"{a[0]} {joiner} {b[0]}", a[1] | b[1]),
            children,
            st.sampled_from(["and", "or"]),
            children,
        ),
        max_leaves=3,
    )
    bracketed = inner_filters.map(lambda f: (f"emails[{f[0]}]", f[1]))
    with_sub = st.builds(
        lambda f, op, value: (
            f"emails[{f[0]}].value {op} {_quoted(value)}",
            f[1] | frozenset([value]),
        ),
        inner_filters,
        st.sampled_from(STRING_OPERATORS),
        values,
    )
    return st.one_of(bracketed, with_sub)


def filters(values: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    """Well-formed filters: comparisons and value paths under and/or/not/parentheses."""
    return st.recursive(
        st.one_of(comparisons(values), value_paths(values)),
        lambda children: st.one_of(
            st.builds(
                lambda a, joiner, b: (f"{a[0]} {joiner} {b[0]}", a[1] | b[1]),
                children,
                st.sampled_from(["and", "or", "AND", "Or"]),
                children,
            ),
            children.map(lambda f: (f"not ({f[0]})", f[1])),
            children.map(lambda f: (f"({f[0]})", f[1])),
        ),
        max_leaves=8,
    )


timestamps = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
directory_users = st.builds(
    DirectoryUser,
    id=ids,
    email=emails,
    given_name=st.one_of(st.just(""), st.text(max_size=40)),
    family_name=st.one_of(st.just(""), st.text(max_size=40)),
    disabled=st.booleans(),
    group_ids=st.lists(ids, max_size=4, unique=True).map(tuple),
    created=timestamps,
    last_modified=timestamps,
)

scim_emails = st.builds(
    UserEmail,
    value=st.one_of(st.none(), emails, st.text(max_size=30)),
    type=st.one_of(st.none(), st.sampled_from(["work", "home", "WORK", "other", ""])),
    primary=st.one_of(st.none(), st.booleans()),
)
scim_users = st.builds(
    User,
    user_name=st.one_of(st.none(), emails, st.text(max_size=40)),
    name=st.one_of(
        st.none(),
        st.builds(
            UserName,
            given_name=st.one_of(st.none(), st.text(max_size=20)),
            family_name=st.one_of(st.none(), st.text(max_size=20)),
        ),
    ),
    active=st.one_of(st.none(), st.booleans()),
    password=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    emails=st.one_of(st.none(), st.lists(scim_emails, max_size=4)),
)


def attempt(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, ScimError | None]:
    """``function``'s result, or the :class:`ScimError` it raised (anything else escapes)."""
    try:
        return function(*args, **kwargs), None
    except ScimError as error:
        return None, error


# -- filters ---------------------------------------------------------------------------


@PROPERTY
@given(text=filter_like_text)
def test_any_text_parses_or_is_an_invalid_filter(text: str) -> None:
    for model, allowed, keys, schema in (
        (User, USER_FILTER_ATTRIBUTES, USER_LOOKUP_KEYS, USER_SCHEMA),
        (Group, GROUP_FILTER_ATTRIBUTES, GROUP_LOOKUP_KEYS, GROUP_SCHEMA),
    ):
        parsed, error = attempt(parse_filter, model, text, allowed=allowed)
        if error is not None:
            assert (error.status, error.scim_type) == (400, "invalidFilter"), error.detail
            if error.reason == "invalid_filter":
                # Where, and what was expected there (scim/filter_errors.py).
                assert re.search(r"at column \d+( \(its end\))?: ", error.detail), error.detail
                assert "expected " in error.detail, error.detail
            continue
        lookups = equality_lookups(parsed.ast, keys, schema)
        assert lookups is None or all(value in text for _, value in lookups)


@PROPERTY
@given(case=filters(plain_text))
def test_well_formed_filters_parse_and_their_lookups_come_from_the_filter(case: Filter) -> None:
    text, values = case
    parsed = parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
    lookups = equality_lookups(parsed.ast, USER_LOOKUP_KEYS, USER_SCHEMA)
    assert lookups is None or isinstance(lookups, list)
    for kind, value in lookups or []:
        assert kind in ("id", "email")
        assert value in values
        assert value in text


@st.composite
def users_and_filters(draw: st.DrawFn) -> tuple[DirectoryUser, Filter]:
    """A user, and a filter whose values are often that user's id and email."""
    user = draw(directory_users)
    values = st.one_of(
        st.sampled_from(
            [user.id, user.email, user.email.upper(), user.email.lower(), "work", "other"]
        ).filter(lambda v: '"' not in v and "\\" not in v),
        plain_text,
    )
    return user, draw(filters(values))


@PROPERTY
@given(case=users_and_filters())
def test_equality_lookups_find_every_user_the_filter_matches(
    case: tuple[DirectoryUser, Filter],
) -> None:
    """The lookups are a superset: a user the filter matches is found by one of them."""
    user, (text, _) = case
    parsed = parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
    lookups = equality_lookups(parsed.ast, USER_LOOKUP_KEYS, USER_SCHEMA)
    if lookups is None or not parsed.match(user_resource(user, BASE)):
        return
    assert any(
        (kind == "id" and value == user.id)
        or (kind == "email" and value.casefold() == user.email.casefold())
        for kind, value in lookups
    ), (text, lookups, user)


# -- PATCH bodies ----------------------------------------------------------------------


@PROPERTY
@given(body=patch_bodies)
def test_any_patch_body_is_read_or_refused_with_a_4xx(body: dict[str, Any]) -> None:
    for model, read_only in ((User, USER_READ_ONLY), (Group, GROUP_READ_ONLY)):
        patch, error = attempt(read_patch, model, body, read_only=read_only)
        if error is not None:
            assert 400 <= error.status < 500, (error.status, error.detail)
            continue
        assert patch is None or isinstance(patch, PatchOp)


@PROPERTY
@given(
    body=st.fixed_dictionaries(
        {"schemas": st.just([PATCH_OP_SCHEMA]), "Operations": st.lists(operations, max_size=4)}
    )
)
def test_group_change_raises_nothing_but_scim_errors(body: dict[str, Any]) -> None:
    patch, error = attempt(read_patch, Group, body, read_only=GROUP_READ_ONLY)
    if error is not None:
        return
    change, error = attempt(group_change, patch)
    assert isinstance(change, GroupChange) or (error is not None and 400 <= error.status < 500)


MEMBER_IDS = ["u1", "u2", "u3", "u4", "u5"]
member_lists = st.lists(st.sampled_from(MEMBER_IDS), max_size=4)
Effect = tuple[str, Any]


def _members(ids_: list[str]) -> list[dict[str, str]]:
    return [{"value": member} for member in ids_]


@st.composite
def group_operations(draw: st.DrawFn) -> tuple[dict[str, Any], Effect]:
    """A valid Group PATCH operation in one of the shapes Okta and Entra send, and its effect."""
    shape = draw(
        st.sampled_from(
            [
                "add",
                "add-one",
                "add-pathless",
                "add-prefixed",
                "remove-values",
                "remove-all",
                "remove-filter",
                "replace",
                "replace-one",
                "replace-pathless",
                "rename",
                "rename-pathless",
            ]
        )
    )
    spelling = draw(st.sampled_from([str.lower, str.capitalize, str.upper]))
    members = draw(member_lists)
    name = draw(st.text(min_size=1, max_size=12).filter(str.strip))
    if shape == "add":
        return {"op": spelling("add"), "path": "members", "value": _members(members)}, (
            "add",
            members,
        )
    if shape == "add-one":
        member = draw(st.sampled_from(MEMBER_IDS))
        return {"op": "add", "path": "members", "value": {"value": member}}, ("add", [member])
    if shape == "add-pathless":
        return {"op": spelling("add"), "value": {"members": _members(members)}}, ("add", members)
    if shape == "add-prefixed":
        path = f"{GROUP_SCHEMA}:members"
        return {"op": "add", "path": path, "value": _members(members)}, ("add", members)
    if shape == "remove-values":
        return {"op": spelling("remove"), "path": "members", "value": _members(members)}, (
            "remove",
            members,
        )
    if shape == "remove-all":
        return {"op": spelling("remove"), "path": "members"}, ("replace", [])
    if shape == "remove-filter":
        chosen = draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=3))
        selector = " or ".join(f'value eq "{member}"' for member in chosen)
        return {"op": "remove", "path": f"members[{selector}]"}, ("remove", chosen)
    if shape == "replace":
        return {"op": spelling("replace"), "path": "members", "value": _members(members)}, (
            "replace",
            members,
        )
    if shape == "replace-one":
        member = draw(st.sampled_from(MEMBER_IDS))
        return {"op": "replace", "path": "members", "value": {"value": member}}, (
            "replace",
            [member],
        )
    if shape == "replace-pathless":
        return {"op": "replace", "value": {"members": _members(members)}}, ("replace", members)
    if shape == "rename":
        return {"op": spelling("replace"), "path": "displayName", "value": name}, ("rename", name)
    return {"op": "replace", "value": {"id": "g1", "displayName": name}}, ("rename", name)


def reference(initial: set[str], effects: list[Effect]) -> tuple[set[str], str | None]:
    """The members and name after the operations, applied one by one to a plain set."""
    members, name = set(initial), None
    for kind, argument in effects:
        if kind == "add":
            members |= set(argument)
        elif kind == "remove":
            members -= set(argument)
        elif kind == "replace":
            members = set(argument)
        else:
            name = argument
    return members, name


def applied(change: GroupChange, initial: set[str]) -> set[str]:
    """The members after a :class:`GroupChange`, as ``GroupProvisioning.patch`` computes them."""
    if change.exact is not None:
        return set(change.exact)
    return (initial | set(change.add)) - set(change.remove)


@PROPERTY
@given(
    initial=st.sets(st.sampled_from(MEMBER_IDS)),
    steps=st.lists(group_operations(), min_size=1, max_size=6),
)
def test_group_change_agrees_with_a_reference_model(
    initial: set[str], steps: list[tuple[dict[str, Any], Effect]]
) -> None:
    body = {"schemas": [PATCH_OP_SCHEMA], "Operations": [operation for operation, _ in steps]}
    patch = read_patch(Group, body, read_only=GROUP_READ_ONLY)
    change = group_change(patch)
    members, name = reference(initial, [effect for _, effect in steps])
    assert applied(change, initial) == members
    assert change.rename == name
    assert not set(change.add) & set(change.remove)


# -- user mapping ----------------------------------------------------------------------


@PROPERTY
@given(user=directory_users)
def test_a_user_resource_read_back_changes_nothing(user: DirectoryUser) -> None:
    update = user_update(user, user_resource(user, BASE))
    assert update.changes.is_empty(), update.changes
    assert update.deactivate is user.disabled
    assert not update.ignored_username_change


@PROPERTY
@given(resource=scim_users)
def test_new_user_needs_an_email(resource: User) -> None:
    created, error = attempt(new_user, UserCreation.of(resource))
    if error is not None:
        assert error.status == 400
        return
    assert isinstance(created, NewUser)
    # TelemetryTV signs users in by email: what is sent is the userName or the chosen
    # address, and it looks like an email either way.
    assert created.email in (resource.user_name, chosen_email(resource.emails)), created
    assert "@" in created.email, created
    assert " " not in created.email, created


# -- what the properties found, as minimal reproductions ---------------------------------


def test_a_group_operation_with_an_empty_path_is_one_without_a_path() -> None:
    value = {"displayName": "x", "externalId": "e1", "members": [{"value": "u1"}]}
    for op in ("add", "replace"):
        empty, pathless = {"op": op, "path": "", "value": value}, {"op": op, "value": value}
        changes, dropped = [], []
        for operation in (empty, pathless):
            body = {"Operations": [operation]}
            with capture_logs() as logs:
                changes.append(group_change(read_patch(Group, body, read_only=GROUP_READ_ONLY)))
            dropped.append([e["attributes"] for e in logs if e["event"] == "attributes_dropped"])
        assert changes[0] == changes[1]
        assert changes[0].rename == "x"
        assert dropped[0] == dropped[1] == [["externalId"]]


def test_a_conjunction_selecting_members_is_refused_not_over_applied() -> None:
    # 'and' may select fewer members than its equality terms name: refused, never a
    # removal of members the filter does not match.
    for selector in ('value eq "u1" and value eq "u2"', 'value eq "u1" and display eq "x"'):
        body = {"Operations": [{"op": "remove", "path": f"members[{selector}]"}]}
        with pytest.raises(ScimError) as caught:
            group_change(read_patch(Group, body, read_only=GROUP_READ_ONLY))
        assert caught.value.scim_type == "invalidFilter"


def test_new_user_refuses_an_email_value_without_an_at_sign() -> None:
    resource = User(user_name="bob", emails=[UserEmail(value="bob")])
    with pytest.raises(ScimError):
        new_user(resource)


def test_the_filter_grammar_covers_every_allowed_user_attribute() -> None:
    """Keeps the grammar honest when the allowed attributes change."""
    named = {a.lower().removeprefix(USER_SCHEMA.lower() + ":") for a in ALL_ATTRIBUTES}
    assert set(USER_FILTER_ATTRIBUTES) <= named
