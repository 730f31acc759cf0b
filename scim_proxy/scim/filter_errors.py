"""What a malformed filter's error says: where the problem is, and what was expected there.

scim2-models' parser answers ``invalid syntax at column 14`` for ``(userName eq "x"``:
the column of the last token read, not of the missing ``)``, and nothing about what
was expected. This module words the error an admin reads, only once parsing has failed
(never on the way of a valid filter), from two sources:

- a scan of our own for strings and brackets, which names an unclosed ``(``, ``[`` or
  string by the column it was opened at, a closing bracket with nothing open, and a
  string's bad escape or control character at its own column (where the parser only
  sees a string that does not start);
- otherwise the parser's exception, which scim2-models chains to its
  ``InvalidFilterException``: lark's public ``UnexpectedToken`` (``token``,
  ``expected``), ``UnexpectedCharacters`` (``pos_in_stream``, ``char``, ``allowed``) and
  ``VisitError`` (``obj``, ``orig_exc``), read through their public attributes.

Columns count characters from 1 over the whole filter (a newline is one character).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken, VisitError
from scim2_models import InvalidFilterException, ScimFilter

_VALUE = "a value (a quoted string, a number, true, false or null)"
_OPERATOR = "an operator (eq, ne, co, sw, ew, gt, lt, ge, le, or pr)"

_EXPECTED = {
    "ATTR_PATH": "an attribute name",
    "SUB_ATTR": "a sub-attribute name",
    "COMPARE_OP": _OPERATOR,
    "PR": _OPERATOR,
    "STRING": _VALUE,
    "NUMBER": _VALUE,
    "TRUE": _VALUE,
    "FALSE": _VALUE,
    "NULL": _VALUE,
    "_AND": "'and'",
    "_OR": "'or'",
    "_NOT": "'not'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_LBRACKET": "'['",
    "_RBRACKET": "']'",
    "_DOT": "'.'",
}
"""How the grammar's terminals (the names lark's ``expected`` and ``allowed`` hold) read.
A name missing here (a later grammar's) reads as itself, lower-cased."""

_ORDER = [
    "an attribute name",
    "a sub-attribute name",
    _OPERATOR,
    _VALUE,
    "'not'",
    "'('",
    "'['",
    "'.'",
    "'and'",
    "'or'",
    "')'",
    "']'",
    "the end of the filter",
]

_CLOSING = {"(": ")", "[": "]"}
_ESCAPES = frozenset('"\\/bfnrtu')
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def filter_problem(text: str, error: BaseException) -> tuple[str, str]:
    """Where ``text``, which scim2-models refused with ``error``, goes wrong and what was
    expected there, e.g. ``at column 17 (its end): expected ')' to close the '(' opened
    at column 1``; and the same without any quoted string of the filter, for logs (a
    string in a filter is a value: an email, a name)."""
    scanned = _scan(text)
    if scanned is not None:
        return scanned, scanned
    cause = error.__cause__
    if isinstance(cause, UnexpectedToken):
        return _unexpected_token(text, cause)
    if isinstance(cause, UnexpectedCharacters):
        problem = _unexpected_character(text, cause)
    elif isinstance(cause, VisitError):
        problem = _not_buildable(text, cause)
    else:
        problem = _too_deep(text, str(getattr(error, "detail", error)))
    return problem, problem


def _scan(text: str) -> str | None:
    """Strings and brackets: an unclosed or unmatched one, or a bad character in a string."""
    open_: list[tuple[str, int]] = []  # ("(" or "[", its column)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            problem, i = _string(text, i)
            if problem is not None:
                return problem
            continue
        if char in _CLOSING:
            open_.append((char, i + 1))
        elif char in (")", "]"):
            if not open_:
                opener = "(" if char == ")" else "["
                earlier, expected = _after(text[:i])
                return earlier or (
                    f"at column {i + 1}: expected {expected}, found {char!r} with no {opener!r} "
                    "open"
                )
            opener, column = open_.pop()
            if _CLOSING[opener] != char:
                return (
                    f"at column {i + 1}: expected {_CLOSING[opener]!r} to close the "
                    f"{opener!r} opened at column {column}, found {char!r}"
                )
        i += 1
    if open_:
        opener, column = open_[-1]
        return (
            f"at {_end(text)}: expected {_CLOSING[opener]!r} to close the {opener!r} opened "
            f"at column {column}"
        )
    return None


def _string(text: str, start: int) -> tuple[str | None, int]:
    """Read the string opening at ``start``: a problem in it, and where the scan goes on."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return None, i + 1
        if char == "\\":
            escape = text[i + 1 : i + 2]
            if escape not in _ESCAPES or (
                escape == "u" and not _HEX4.fullmatch(text[i + 2 : i + 6])
            ):
                shown = text[i : i + 6] if escape == "u" else text[i : i + 2]
                return (
                    f"at column {i + 1}: found {shown!r} in the string opened at column "
                    f'{start + 1}; expected one of the escapes \\" \\\\ \\/ \\b \\f \\n \\r '
                    "\\t or \\u followed by four hex digits"
                ), i
            i += 2
            continue
        if ord(char) < 0x20:
            return (
                f"at column {i + 1}: found a control character (U+{ord(char):04X}) in the "
                f"string opened at column {start + 1}; expected it escaped as \\u{ord(char):04x}"
            ), i
        i += 1
    return f"at {_end(text)}: expected '\"' to close the string opened at column {start + 1}", i


def _after(prefix: str) -> tuple[str | None, str]:
    """What may follow ``prefix`` (balanced: no bracket open in it), as the parser itself
    says; or, when ``prefix`` holds a problem of its own (an earlier one), that problem."""
    try:
        ScimFilter(prefix)
    except InvalidFilterException as exc:
        cause = exc.__cause__
        if isinstance(cause, UnexpectedToken) and cause.token.type == "$END":
            return None, _expected(cause.expected, prefix, len(prefix))
        return filter_problem(prefix, exc)[0], ""
    return None, "'and', 'or' or the end of the filter"


def _end(text: str) -> str:
    """Where the filter ends: right after its last character that is not a space."""
    return f"column {len(text.rstrip()) + 1} (its end)"


def _open_at(text: str, position: int) -> list[str]:
    """The brackets open just before ``position`` (strings skipped), innermost last."""
    open_: list[str] = []
    i = 0
    while i < position:
        char = text[i]
        if char == '"':
            _, i = _string(text, i)
            continue
        if char in _CLOSING:
            open_.append(char)
        elif char in (")", "]") and open_:
            open_.pop()
        i += 1
    return open_


def _expected(names: Iterable[str], text: str, position: int) -> str:
    """What the parser expected at ``position``, in words, ``a, b or c``."""
    wanted = {_EXPECTED.get(name, name.strip("_").lower()) for name in names}
    # The parser's tables offer ')' and ']' wherever an expression may end; only the
    # brackets actually open there (the innermost first) can close.
    open_ = _open_at(text, position)
    for closer, opener in (("')'", "("), ("']'", "[")):
        if closer in wanted and (not open_ or open_[-1] != opener):
            wanted.discard(closer)
    if not open_ and ({"'and'", "'or'"} & wanted):
        wanted.add("the end of the filter")
    ordered = [w for w in _ORDER if w in wanted] + sorted(wanted.difference(_ORDER))
    if not ordered:
        return "nothing more here"
    return ordered[0] if len(ordered) == 1 else ", ".join(ordered[:-1]) + " or " + ordered[-1]


def _index(value: object, default: int) -> int:
    """A position lark reports (``None`` when it has none), else ``default``."""
    return value if isinstance(value, int) else default


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _unexpected_token(text: str, error: UnexpectedToken) -> tuple[str, str]:
    token = error.token
    if token.type == "$END":
        problem = f"at {_end(text)}: expected {_expected(error.expected, text, len(text))}"
        return problem, problem
    position = _index(token.start_pos, _index(error.pos_in_stream, len(text)))
    where = f"at column {position + 1}: expected {_expected(error.expected, text, position)}"
    found = _shown(str(token.value))
    logged = "a quoted string" if token.type == "STRING" else found
    return f"{where}, found {found}", f"{where}, found {logged}"


def _unexpected_character(text: str, error: UnexpectedCharacters) -> str:
    position = _index(error.pos_in_stream, len(text))
    found = _shown(error.char)
    if error.char == "'":
        found += " (strings are written in double quotes)"
    return (
        f"at column {position + 1}: expected {_expected(error.allowed or (), text, position)}, "
        f"found {found}"
    )


def _not_buildable(text: str, error: VisitError) -> str:
    """A filter the grammar accepts and scim2-models cannot build (its ``orig_exc`` says why)."""
    why = str(error.orig_exc)
    node = error.obj
    tokens = (
        [node]
        if isinstance(node, Token)
        else list(node.scan_values(_is_token))
        if isinstance(node, Tree)
        else []
    )
    first = next((t for t in tokens if isinstance(t.start_pos, int)), None)
    where = f"column {_index(first.start_pos, 0) + 1}" if first is not None else _end(text)
    if why.startswith("number out of range"):
        return f"at {where}: expected a number within range, found {_shown(str(first or ''))}"
    if why.startswith("a value selection cannot apply to the sub-attribute"):
        return (
            f"at {where}: expected an attribute without a sub-attribute before '[' (as in "
            f'emails[type eq "work"].value), found {_shown(str(first or ""))}'
        )
    return f"at {where}: {why}"


def _is_token(value: object) -> bool:
    return isinstance(value, Token)


def _too_deep(text: str, detail: str) -> str:
    """The parser's own limits (no lark error chained): its nesting depth, placed at the
    most deeply nested bracket."""
    deepest, depth, column = 0, 0, 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            _, i = _string(text, i)
            continue
        if char in _CLOSING:
            depth += 1
            if depth > deepest:
                deepest, column = depth, i + 1
        elif char in (")", "]"):
            depth -= 1
        i += 1
    if "nests more than" in detail:
        limit = "".join(c for c in detail if c.isdigit()) or "32"
        return (
            f"at column {column or 1}: expected at most {limit} expressions nested in one "
            "another (and, or, not, [...]), found more"
        )
    # Nothing else is known to be raised; its own words may not be for admins.
    return f"at {_end(text)}: expected SCIM filter syntax (RFC 7644, section 3.4.2.2)"


def unencodable_problem(text: str) -> str:
    """Where a filter holds a character that is not Unicode text (a lone surrogate, which
    JSON's ``\\ud800`` escape can spell)."""
    for index, char in enumerate(text):
        if 0xD800 <= ord(char) <= 0xDFFF:
            return (
                f"at column {index + 1}: expected a character of valid Unicode text, found a "
                f"lone surrogate (U+{ord(char):04X})"
            )
    # The parsed value holds it: a \\uD800-\\uDFFF escape inside a string, not in a pair.
    column = len(text.rstrip()) + 1
    escapes = list(_UNICODE_ESCAPE.finditer(text))
    paired = False
    for index, escape in enumerate(escapes):
        unit = int(escape.group(1), 16)
        if paired:
            paired = False
            continue
        following = escapes[index + 1] if index + 1 < len(escapes) else None
        if (
            0xD800 <= unit <= 0xDBFF
            and following is not None
            and following.start() == escape.end()
            and 0xDC00 <= int(following.group(1), 16) <= 0xDFFF
        ):
            paired = True
            continue
        if 0xD800 <= unit <= 0xDFFF:
            column = escape.start() + 1
            break
    return (
        f"at column {column}: expected an escape of valid Unicode text, found a lone "
        "surrogate (a \\uD800-\\uDFFF escape not part of a pair)"
    )
