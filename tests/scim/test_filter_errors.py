"""A malformed filter's error names the column of the problem and what was expected there,
for every kind of error the parser raises (scim/filter_errors.py)."""

from __future__ import annotations

import re

import pytest
from lark.exceptions import UnexpectedCharacters, UnexpectedToken, VisitError
from scim2_models import InvalidFilterException, ScimFilter

from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.filters import parse_filter
from scim_proxy.scim.models import User
from scim_proxy.translation.users import USER_FILTER_ATTRIBUTES

OPERATOR = "an operator (eq, ne, co, sw, ew, gt, lt, ge, le, or pr)"
VALUE = "a value (a quoted string, a number, true, false or null)"
AFTER_EXPRESSION = "'and', 'or' or the end of the filter"
DEEP = "not(" * 33 + 'userName eq "x"' + ")" * 33

# (filter, the parser's error it meets, the detail after "The filter is not valid ")
MALFORMED = [
    # Brackets and strings, which the parser reports at the wrong place (scanned first).
    ('(userName eq "x"', UnexpectedToken,
     "at column 17 (its end): expected ')' to close the '(' opened at column 1"),
    ('emails[type eq "work"', UnexpectedToken,
     "at column 22 (its end): expected ']' to close the '[' opened at column 7"),
    ('(userName eq "x"]', UnexpectedToken,
     "at column 17: expected ')' to close the '(' opened at column 1, found ']'"),
    ('userName eq "x")', UnexpectedToken,
     f"at column 16: expected {AFTER_EXPRESSION}, found ')' with no '(' open"),
    ('userName eq "x" ]', UnexpectedToken,
     f"at column 17: expected {AFTER_EXPRESSION}, found ']' with no '[' open"),
    ('userName eq "ana', UnexpectedCharacters,
     "at column 17 (its end): expected '\"' to close the string opened at column 13"),
    ('userName eq "a\\qb"', UnexpectedCharacters,
     "at column 15: found '\\\\q' in the string opened at column 13; expected one of the "
     "escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\u followed by four hex digits"),
    ('userName eq "a\x01b"', UnexpectedCharacters,
     "at column 15: found a control character (U+0001) in the string opened at column 13; "
     "expected it escaped as \\u0001"),
    # A token the grammar does not take there.
    ('userName "x"', UnexpectedToken, f"at column 10: expected {OPERATOR} or '[', found '\"x\"'"),
    ('userName zz "x"', UnexpectedToken, f"at column 10: expected {OPERATOR} or '[', found 'zz'"),
    ('userName eq "x" title pr', UnexpectedToken,
     f"at column 17: expected {AFTER_EXPRESSION}, found 'title'"),
    ('emails[type eq "work" title pr]', UnexpectedToken,
     "at column 23: expected 'and', 'or' or ']', found 'title'"),
    ('not userName eq "x"', UnexpectedToken, "at column 5: expected '(', found 'userName'"),
    ('"x" eq userName', UnexpectedToken,
     "at column 1: expected an attribute name, 'not' or '(', found '\"x\"'"),
    ("userName eq true1", UnexpectedToken, f"at column 13: expected {VALUE}, found 'true1'"),
    ("name.givenName.x eq 1", UnexpectedToken,
     f"at column 15: expected {OPERATOR} or '[', found '.'"),
    # The filter ends too early.
    ("userName eq", UnexpectedToken, f"at column 12 (its end): expected {VALUE}"),
    ("userName", UnexpectedToken, f"at column 9 (its end): expected {OPERATOR} or '['"),
    ('userName eq "x" and ', UnexpectedToken,
     "at column 20 (its end): expected an attribute name, 'not' or '('"),
    ("", UnexpectedToken, "at column 1 (its end): expected an attribute name, 'not' or '('"),
    ('emails[type eq "work"].', UnexpectedToken,
     "at column 24 (its end): expected a sub-attribute name"),
    # A character no token starts with.
    ("userName eq 'x'", UnexpectedCharacters,
     f"at column 13: expected {VALUE}, found \"'\" (strings are written in double quotes)"),
    ('userName eq "x" & title pr', UnexpectedCharacters,
     f"at column 17: expected {AFTER_EXPRESSION}, found '&'"),
    ("userName eq -", UnexpectedCharacters, f"at column 13: expected {VALUE}, found '-'"),
    # Parsed, but scim2-models cannot build it.
    ("userName eq 1e999", VisitError,
     "at column 13: expected a number within range, found '1e999'"),
    ('emails.value[type eq "work"]', VisitError,
     "at column 1: expected an attribute without a sub-attribute before '[' (as in "
     "emails[type eq \"work\"].value), found 'emails.value'"),
    # The parser's own limit.
    (DEEP, None,
     "at column 132: expected at most 32 expressions nested in one another "
     "(and, or, not, [...]), found more"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "kind", "problem"), MALFORMED, ids=[m[0][:40] for m in MALFORMED])
def test_a_malformed_filter_says_where_and_what_was_expected(
    text: str, kind: type[Exception] | None, problem: str
) -> None:
    # The table covers each kind of error the parser raises: check it meets that one.
    with pytest.raises(InvalidFilterException) as raised:
        ScimFilter[User](text)  # type: ignore[misc]
    cause = raised.value.__cause__
    assert type(cause) is kind if kind is not None else cause is None, cause
    with pytest.raises(ScimError) as error:
        parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
    assert (error.value.status, error.value.scim_type, error.value.reason) == (
        400,
        "invalidFilter",
        "invalid_filter",
    )
    assert error.value.detail == f"The filter is not valid {problem}"


def test_a_string_of_the_filter_is_not_logged() -> None:
    with pytest.raises(ScimError) as error:
        parse_filter(User, 'userName "ana.lima@example.com"', allowed=USER_FILTER_ATTRIBUTES)
    assert "ana.lima" in error.value.detail  # the admin sees what was found
    assert error.value.log_detail is not None
    assert "ana.lima" not in error.value.log_detail
    assert error.value.log_detail.endswith("found a quoted string")


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ('userName eq "a\ud800"', 15),
        ('userName eq "a\\ud800"', 15),
        ('title eq "\\ud83d\\ude00\\udc00"', 23),
    ],
)
def test_a_lone_surrogate_is_placed_too(text: str, column: int) -> None:
    with pytest.raises(ScimError) as error:
        parse_filter(User, text, allowed={**USER_FILTER_ATTRIBUTES, "title": "title"})
    assert error.value.reason == "invalid_filter"
    assert f"at column {column}: expected " in error.value.detail


def test_the_names_of_the_grammar_never_show() -> None:
    for text, _, _ in MALFORMED:
        with pytest.raises(ScimError) as error:
            parse_filter(User, text, allowed=USER_FILTER_ATTRIBUTES)
        assert not re.search(r"\b[A-Z_]{4,}\b|\$END", error.value.detail), error.value.detail
