"""How much one request may ask for, checked on its body before any work is done for it.

Every write the proxy carries out costs upstream calls and CPU in proportion to what the
request names: a PATCH's operations, the values it writes to a multi-valued attribute,
the members of a group write. Okta and Entra send a handful of each (docs/reliability.md,
"Limits"); a request naming thousands is refused here, before it is validated and before
any upstream call, with a SCIM 400 whose detail names the limit and its setting.

Filters have their own limit (``or`` terms, :func:`~scim_proxy.scim.filters.parse_filter`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from scim2_models import Resource

from ..ops.config import ScimSettings
from .errors import ScimError

MEMBERS = "members"


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The most one request may name (each a ``[scim]`` setting, :meth:`from_settings`)."""

    patch_operations: int = 1000
    """Operations of one PatchOp (``scim.max_patch_operations``)."""
    attribute_values: int = 100
    """Values one request writes to one multi-valued attribute, summed over its operations
    (``scim.max_attribute_values``); a group's members have their own limit."""
    members: int = 1000
    """Members one group write names: a POST's or PUT's list, a PATCH's added, removed
    and replaced members summed over its operations (``scim.max_members_per_write``)."""

    @classmethod
    def from_settings(cls, scim: ScimSettings) -> RequestLimits:
        """The limits ``[scim]`` sets."""
        return cls(
            patch_operations=scim.max_patch_operations,
            attribute_values=scim.max_attribute_values,
            members=scim.max_members_per_write,
        )


def too_large(detail: str, setting: str, limit: int) -> ScimError:
    """400 ``invalidValue`` for a request over one of the limits."""
    return ScimError(
        400,
        f"{detail}; the proxy accepts at most {limit} (setting scim.{setting}). Send the "
        "change in several smaller requests.",
        "invalidValue",
        reason="request_too_large",
    )


@cache
def _multi_valued(model: type[Resource[Any]]) -> frozenset[str]:
    """The model's multi-valued attributes (lower case), read once per model: walking its
    fields cost a POST about 10 µs when done per request."""
    return frozenset(
        (info.serialization_alias or name).lower()
        for name, info in model.model_fields.items()
        if model.get_field_multiplicity(name)
    )


@cache
def _schema(model: type[Resource[Any]]) -> str:
    return str(getattr(model, "__schema__", ""))


_REMEMBERED_PATH = 128
"""The longest path or key whose attribute :func:`_attribute` keeps (1,024 of them)."""


def _attribute(path: str, schema: str) -> tuple[str, bool]:
    """The attribute a path or value key writes (lower case), and whether it filters.

    The keys of one request are the keys of the last (``userName``, ``name.givenName``):
    their answers are kept, which saves Okta's creation body about 5 µs of its 11
    (docs/performance.md).
    """
    if len(path) <= _REMEMBERED_PATH:
        return _remembered_attribute(path, schema)
    return _read_attribute(path, schema)


def _read_attribute(path: str, schema: str) -> tuple[str, bool]:
    lowered = path.strip().lower()
    core = schema.lower() + ":"
    if lowered.startswith(core):
        lowered = lowered[len(core) :]
    filtered = "[" in lowered
    if lowered.startswith("urn:"):
        # An extension attribute: the URN and its first segment after the last colon.
        head, _, tail = lowered.rpartition(":")
        return f"{head}:{tail.split('[', 1)[0].split('.', 1)[0]}", filtered
    return lowered.split("[", 1)[0].split(".", 1)[0], filtered


_remembered_attribute = lru_cache(maxsize=1024)(_read_attribute)


def _selected(path: str) -> int:
    """How many entries a value filter can select at most: one per ``or`` term.

    Counted on the text, outside string literals, so that the count costs a scan of the
    path however the filter is written (scim2-models parses it later, once accepted).
    """
    terms, quoted, escaped, word = 1, False, False, ""
    for char in path:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        if char.isalpha():
            word += char
            continue
        if word.lower() == "or":
            terms += 1
        word = ""
    return terms


class _Tally:
    """Values written per attribute, as a request's parts are read."""

    def __init__(self, model: type[Resource[Any]]) -> None:
        self.schema = _schema(model)
        self.multi_valued = _multi_valued(model)
        self.counts: Counter[str] = Counter()

    def write(self, path: str, value: Any) -> None:
        """One operation's (or one key's) write of ``value`` at ``path``."""
        attribute, filtered = _attribute(path, self.schema)
        if isinstance(value, list):
            self.counts[attribute] += len(value)
        elif filtered:
            self.counts[attribute] += _selected(path)
        elif attribute in self.multi_valued:
            self.counts[attribute] += 1

    def object(self, value: Mapping[Any, Any], prefix: str = "") -> None:
        """Every key of a pathless value or a resource body, one level into objects."""
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            if isinstance(item, dict) and not prefix:
                # An extension's or a complex attribute's own attributes.
                self.object(item, prefix=f"{key}:" if key.lower().startswith("urn:") else f"{key}.")
            self.write(prefix + key, item)


def _check(tally: _Tally, limits: RequestLimits) -> None:
    # A group's members are counted against their own limit (a user has no "members").
    members = MEMBERS if MEMBERS in tally.multi_valued else None
    for attribute, count in tally.counts.items():
        if attribute == members:
            if count > limits.members:
                raise too_large(
                    f"This request names {count} group members",
                    "max_members_per_write",
                    limits.members,
                )
        elif count > limits.attribute_values:
            raise too_large(
                f"This request writes {count} values to {attribute!r}",
                "max_attribute_values",
                limits.attribute_values,
            )


def check_resource(
    model: type[Resource[Any]], body: Mapping[str, Any], limits: RequestLimits
) -> None:
    """Refuse a POST or PUT body writing more values (or members) than ``limits`` allow."""
    tally = _Tally(model)
    tally.object(body)
    _check(tally, limits)


def check_patch(model: type[Resource[Any]], body: Mapping[str, Any], limits: RequestLimits) -> None:
    """Refuse a PatchOp body with too many operations, values or members.

    Counted on the raw body, before scim2-models reads it, so that the count stays cheap
    whatever the body holds. A filtered path (``members[value eq "a" or value eq "b"]``)
    counts the entries its filter can select: one per ``or`` term.
    """
    operations = body.get("Operations")
    if not isinstance(operations, list):
        return  # not a PatchOp: scim2-models refuses it
    if len(operations) > limits.patch_operations:
        raise too_large(
            f"This PATCH holds {len(operations)} operations",
            "max_patch_operations",
            limits.patch_operations,
        )
    tally = _Tally(model)
    for operation in operations:
        if not isinstance(operation, dict):
            continue
        path, value = operation.get("path"), operation.get("value")
        if isinstance(path, str) and path.strip():
            tally.write(path, value)
        elif isinstance(value, dict):
            tally.object(value)
    _check(tally, limits)
