"""SCIM resource endpoint names matched case-insensitively: ``/scim/v2/users`` is ``/Users``.

RFC 7644 spells them ``/Users``, ``/Groups``...; some clients (a third-party test
collection among them) send them lower-cased. Rather than a case-insensitive router,
the one segment after the SCIM prefix is put back in its canonical spelling before
routing: one ``startswith`` when it is already canonical, as it is from Okta and Entra.
"""

from __future__ import annotations

from starlette.types import Scope

from .state import SCIM_PREFIX

_PREFIX = SCIM_PREFIX + "/"
_NAMES = (
    "Users",
    "Groups",
    "Roles",  # routed only with [roles] enabled; off, /roles is a 404 as /Roles is
    "ServiceProviderConfig",
    "Schemas",
    "ResourceTypes",
    "Bulk",
    "Me",
    ".search",
)
_CANONICAL = frozenset(_NAMES)
_BY_LOWER = {name.lower(): name for name in _NAMES}
# A path already starting with a canonical name needs nothing more: one C-level check.
_CANONICAL_STARTS = tuple(_PREFIX + name for name in _NAMES)


def canonical_resource_path(path: str) -> str:
    """``path`` with its resource endpoint name (the segment after ``/scim/v2/``) canonical."""
    if path.startswith(_CANONICAL_STARTS) or not path.startswith(_PREFIX):
        return path
    segment, slash, rest = path[len(_PREFIX) :].partition("/")
    if segment in _CANONICAL:
        return path
    canonical = _BY_LOWER.get(segment.lower())
    if canonical is None:
        return path
    return f"{_PREFIX}{canonical}{slash}{rest}"


def canonicalise_resource_name(scope: Scope) -> None:
    """Rewrite the scope's path to the canonical endpoint name, before routing."""
    path: str = scope["path"]
    if not path.startswith(_CANONICAL_STARTS):
        scope["path"] = canonical_resource_path(path)
