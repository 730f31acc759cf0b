"""SCIM filters (RFC 7644 §3.4.2.2): parsing, checking, and finding equality lookups.

Parsing and evaluation come from scim2-models. This module adds what a translation
proxy needs on top: refusing attributes it cannot answer for (instead of silently
matching nothing), and finding the ``attr eq "value"`` terms every match must satisfy,
so that a filter can be answered by a few keyed upstream lookups instead of a scan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scim2_models import InvalidFilterException, Resource, ScimFilter
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from .errors import ScimError, invalid_filter
from .filter_errors import filter_problem, unencodable_problem

MAX_FILTER_LENGTH = 4096
"""A filter longer than this is refused before parsing."""

Lookup = tuple[str, str]
"""A keyed lookup: the kind of key (as given in ``keys``) and the value to look up."""


def parse_filter(
    model: type[Resource[Any]],
    text: str,
    *,
    allowed: Mapping[str, str],
    max_or_terms: int | None = None,
) -> ScimFilter[Any]:
    """Parse ``text`` for ``model``, refusing attributes outside ``allowed``.

    ``allowed`` maps lower-cased attribute paths such as ``username`` or
    ``emails.value`` to their display spelling. Raises a 400 ``invalidFilter``
    :class:`ScimError` for a syntax error or any other attribute, and a 400 ``tooMany``
    for more than ``max_or_terms`` terms joined by ``or`` (each keyed term can cost an
    upstream lookup).
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter(
            f"The filter is longer than {MAX_FILTER_LENGTH} characters", "filter_too_large"
        )
    try:
        parsed: ScimFilter[Any] = ScimFilter[model](text)  # type: ignore[valid-type]
    except InvalidFilterException as exc:
        shown, logged = filter_problem(text, exc)
        error = invalid_filter(f"The filter is not valid {shown}", "invalid_filter")
        error.log_detail = f"The filter is not valid {logged}"
        raise error from exc
    except (ValueError, TypeError, RecursionError) as exc:
        shown, _ = filter_problem(text, exc)
        raise invalid_filter(f"The filter is not valid {shown}", "invalid_filter") from exc
    if not _encodable(parsed.ast):
        raise invalid_filter(
            f"The filter is not valid {unencodable_problem(text)}", "invalid_filter"
        )
    if max_or_terms is not None and (terms := or_terms(parsed.ast)) > max_or_terms:
        raise ScimError(
            400,
            f"This filter joins {terms} terms with or; the proxy accepts at most "
            f"{max_or_terms} (setting scim.max_filter_or_terms). Look the resources up in "
            "several requests.",
            "tooMany",
            reason="filter_too_large",
        )
    schema = str(getattr(model, "__schema__", ""))
    for path in _attribute_paths(parsed.ast, prefix=""):
        name = _normalise(path, schema)
        if name not in allowed:
            supported = ", ".join(sorted(allowed.values()))
            error = invalid_filter(
                f"Filtering on {_shown(path)} is not supported; supported attributes: {supported}",
                "unsupported_filter",
            )
            # A value filter inside the path (emails[value eq "..."]) holds a value.
            shown_without_values = _VALUE_FILTER.sub("[...]", _shown(path))
            error.log_detail = (
                f"Filtering on {shown_without_values} is not supported; "
                f"supported attributes: {supported}"
            )
            raise error
    return parsed


_USER_NAME_EQ = re.compile(r'username eq "([^"\\\x00-\x1f]+)"', re.IGNORECASE)
"""The fast form: the value as scim2-models' grammar reads a string without escapes."""


def user_name_eq(text: str) -> str | None:
    """The value of a filter that is exactly ``userName eq "value"``, else ``None``.

    Okta looks every user up this way before creating or updating it. This form (one
    space either side of ``eq``, no escapes in the value) needs no parse: its lookup is
    the value, and a user matches when its userName equals it ignoring case, compared
    as scim2-models compares (``str.lower``). Anything else goes to :func:`parse_filter`;
    a property test holds the two equal (tests/scim/test_filters_fast.py).
    """
    if len(text) > MAX_FILTER_LENGTH:
        return None
    match = _USER_NAME_EQ.fullmatch(text)
    return match.group(1) if match else None


def equality_values(node: FilterNode, attributes: tuple[str, ...]) -> list[str] | None:
    """The values a value filter selects exactly: ``<attribute> eq "x"`` terms joined by
    ``or``, for attributes among ``attributes`` (lower case); None for anything else.

    An ``and``, another attribute or another operator could select fewer entries than its
    equality terms name, so the caller refuses it rather than over-apply it.
    """
    if isinstance(node, Comparison):
        if (
            node.attr_path.attr.lower() in attributes
            and node.attr_path.sub_attr is None
            and node.op is CompareOperator.eq
            and isinstance(node.value, str)
        ):
            return [node.value]
        return None
    if isinstance(node, LogicalExpr) and node.op is LogicalOperator.or_:
        values: list[str] = []
        for term in node.terms:
            found = equality_values(term, attributes)
            if found is None:
                return None
            values += found
        return values
    return None


def or_terms(node: FilterNode, *, under_or: bool = False) -> int:
    """How many comparisons of the filter are terms of an ``or`` (nested ones included)."""
    if isinstance(node, Comparison | Present):
        return 1 if under_or else 0
    if isinstance(node, ValuePath):
        return or_terms(node.val_filter, under_or=under_or)
    if isinstance(node, Not):
        return or_terms(node.expr, under_or=under_or)
    if isinstance(node, LogicalExpr):
        inner = under_or or node.op is LogicalOperator.or_
        return sum(or_terms(term, under_or=inner) for term in node.terms)
    return 0


def same_string(filter_value: str, value: str) -> bool:
    """Whether a case-insensitive SCIM ``eq`` holds, as scim2-models decides it."""
    return filter_value.lower() == value.lower()


def _encodable(node: FilterNode) -> bool:
    """Whether every string the filter compares with is valid Unicode (no lone surrogates)."""
    if isinstance(node, Comparison):
        if isinstance(node.value, str):
            try:
                node.value.encode("utf-8")
            except UnicodeEncodeError:
                return False
        return True
    if isinstance(node, ValuePath):
        return _encodable(node.val_filter)
    if isinstance(node, Not):
        return _encodable(node.expr)
    if isinstance(node, LogicalExpr):
        return all(_encodable(term) for term in node.terms)
    return True


def equality_lookups(ast: FilterNode, keys: Mapping[str, str], schema: str) -> list[Lookup] | None:
    """The keyed lookups whose results hold every resource the filter can match.

    ``keys`` maps a lower-cased attribute path (``username``) to a lookup kind
    (``email``). ``None`` means no such set of lookups exists and the filter must be
    evaluated over a listing.
    """
    return _lookups(ast, keys, schema, prefix="")


def _lookups(
    node: FilterNode, keys: Mapping[str, str], schema: str, *, prefix: str
) -> list[Lookup] | None:
    if isinstance(node, Comparison):
        kind = keys.get(prefix + _normalise(node.attr_path, schema))
        if kind is not None and node.op is CompareOperator.eq and isinstance(node.value, str):
            return [(kind, node.value)]
        return None
    if isinstance(node, ValuePath):
        inner_prefix = prefix + _normalise(node.attr_path, schema) + "."
        return _lookups(node.val_filter, keys, schema, prefix=inner_prefix)
    if isinstance(node, LogicalExpr):
        found = [_lookups(term, keys, schema, prefix=prefix) for term in node.terms]
        if node.op is LogicalOperator.and_:
            # Any one conjunct narrows the candidates; the smallest set is the cheapest.
            narrowing = [f for f in found if f is not None]
            return min(narrowing, key=len) if narrowing else None
        if all(f is not None for f in found):
            return [lookup for f in found if f is not None for lookup in f]
        return None
    return None


def _attribute_paths(node: FilterNode, *, prefix: str) -> list[AttrPath | str]:
    if isinstance(node, Comparison | Present):
        return [_prefixed(prefix, node.attr_path)]
    if isinstance(node, ValuePath):
        outer = _prefixed(prefix, node.attr_path)
        inner_prefix = (outer if isinstance(outer, str) else _plain(outer)) + "."
        paths: list[AttrPath | str] = [outer]
        paths += _attribute_paths(node.val_filter, prefix=inner_prefix)
        if node.sub_attr:
            paths.append(inner_prefix + node.sub_attr)
        return paths
    if isinstance(node, Not):
        return _attribute_paths(node.expr, prefix=prefix)
    if isinstance(node, LogicalExpr):
        return [p for term in node.terms for p in _attribute_paths(term, prefix=prefix)]
    raise invalid_filter("The filter uses an unsupported expression", "unsupported_filter")


def _prefixed(prefix: str, path: AttrPath) -> AttrPath | str:
    return prefix + _plain(path) if prefix else path


def _plain(path: AttrPath) -> str:
    return path.attr + (f".{path.sub_attr}" if path.sub_attr else "")


def _normalise(path: AttrPath | str, schema: str) -> str:
    if isinstance(path, str):
        return path.lower()
    if path.uri and path.uri.lower() != schema.lower():
        # An extension attribute; never among the allowed ones.
        return f"{path.uri}:{_plain(path)}".lower()
    return _plain(path).lower()


_VALUE_FILTER = re.compile(r"\[.*\]")


def _shown(path: AttrPath | str) -> str:
    text = path if isinstance(path, str) else _plain(path)
    return repr(text[:80])
