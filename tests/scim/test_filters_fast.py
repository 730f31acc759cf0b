"""``userName eq "value"`` answered without parsing, held equal to the parsed filter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lark.exceptions import LarkError

from scim_proxy.directory import DirectoryUser
from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.filters import equality_lookups, parse_filter, same_string, user_name_eq
from scim_proxy.scim.models import USER_SCHEMA, User
from scim_proxy.translation.user_mapping import user_resource
from scim_proxy.translation.users import USER_FILTER_ATTRIBUTES, USER_LOOKUP_KEYS

values = st.text(
    st.characters(exclude_categories=("Cs",), include_characters='"\\ßİ\u0131\u017fK'), max_size=12
)
spellings = st.sampled_from(["userName", "username", "USERNAME", "userName.value", "emails.value"])
operators = st.sampled_from(["eq", "EQ", "Eq", "ne", "co"])
spaces = st.sampled_from([" ", "  ", "\t", ""])


@settings(max_examples=400, deadline=None)
@given(attr=spellings, op=operators, before=spaces, after=spaces, value=values)
def test_the_fast_form_reads_as_the_parser_reads_it(
    attr: str, op: str, before: str, after: str, value: str
) -> None:
    text = f'{attr}{before}{op}{after}"{value}"'
    fast = user_name_eq(text)
    if fast is None:
        return  # the parser decides: nothing to compare
    parsed = parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
    assert equality_lookups(parsed.ast, USER_LOOKUP_KEYS, USER_SCHEMA) == [("email", fast)]


@settings(max_examples=400, deadline=None)
@given(value=values, email=values)
def test_a_user_matches_the_fast_form_exactly_when_it_matches_the_parsed_filter(
    value: str, email: str
) -> None:
    text = f'userName eq "{value}"'
    fast = user_name_eq(text)
    try:
        parsed = parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
    except (ScimError, LarkError):
        # scim2-models' parser refuses it (an empty string escapes as a LarkError)
        assert fast is None  # an invalid filter is never taken for the fast form
        return
    if fast is None:
        return
    user = DirectoryUser("u1", email, "", "", False, (), None, None)
    assert same_string(fast, email) == parsed.match(user_resource(user, "https://x/scim/v2"))


def test_only_the_plain_form_is_fast() -> None:
    assert user_name_eq('userName eq "ana@example.com"') == "ana@example.com"
    assert user_name_eq('USERNAME EQ "Ana@Example.com"') == "Ana@Example.com"
    for text in (
        'userName eq "a\\"b@example.com"',
        'userName eq "a@example.com" or userName eq "b@example.com"',
        'userName sw "a"',
        'userName eq ""',
        'emails.value eq "a@example.com"',
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@example.com"',
    ):
        assert user_name_eq(text) is None, text
