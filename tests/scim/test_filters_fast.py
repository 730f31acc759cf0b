"""Okta's ``userName eq "value"``, answered without parsing, as the parsed filter answers it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scim_proxy.directory import DirectoryUser
from scim_proxy.scim.filters import equality_lookups, parse_filter, same_string, user_name_eq
from scim_proxy.scim.models import USER_SCHEMA, User
from scim_proxy.translation.user_attributes import user_resource
from scim_proxy.translation.users import USER_FILTER_ATTRIBUTES, USER_LOOKUP_KEYS


def mostly(usual: list[str], others: list[str]) -> st.SearchStrategy[str]:
    """One of ``usual`` five times in six, else one of ``others``."""
    return st.sampled_from(usual * 5 * len(others) + others * len(usual))


# Each part of the text is mostly the plain form's, so that about a third of the texts are
# the plain form (the assertions run on those) and most others differ from it in one part.
attributes = mostly(["userName", "username", "USERNAME"], ["emails.value", "name", "userName.x"])
operators = mostly(["eq", "EQ", "Eq"], ["ne", "co", "sw", "eq eq"])
spaces = mostly([" "], ["  ", "\t", ""])
values = st.one_of(
    # Case-folding traps: sharp s (both cases), long s, dotted and dotless i, Kelvin sign.
    st.text(st.sampled_from("abXY09@.-_+ \u00df\u1e9e\u017f\u0130\u0131\u212a"), min_size=1),
    st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\\')),
    # What a quoted value escapes (backslash; quote and control characters) or nothing.
    st.text(st.sampled_from("ab\\"), min_size=1, max_size=6),
    st.text(st.sampled_from('ab"\x00\n\x1f'), max_size=6),
)


@settings(max_examples=600, deadline=None)
@given(
    attribute=attributes,
    before=spaces,
    operator=operators,
    after=spaces,
    value=values,
    data=st.data(),
)
def test_the_plain_form_is_read_and_matched_as_the_parsed_filter(
    attribute: str, before: str, operator: str, after: str, value: str, data: st.DataObject
) -> None:
    text = f'{attribute}{before}{operator}{after}"{value}"'
    fast = user_name_eq(text)
    if fast is None:
        return  # parsed: the filter is answered the general way
    # Taken for the plain form: the parser reads it (never an invalid filter), as the
    # same one lookup, and a user matches it exactly when the parsed filter matches.
    parsed = parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
    assert equality_lookups(parsed.ast, USER_LOOKUP_KEYS, USER_SCHEMA) == [("email", fast)]
    email = data.draw(st.sampled_from([fast, fast.upper(), fast.lower(), fast.casefold(), "x"]))
    user = DirectoryUser("u1", email, "", "", False, (), None, None)
    assert same_string(fast, email) == parsed.match(user_resource(user, "https://x/scim/v2"))
