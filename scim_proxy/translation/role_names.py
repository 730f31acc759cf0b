"""The names of TelemetryTV's user groups, for the ``display`` of users' roles.

A user's roles show each group's name, and TelemetryTV's user object carries only group
ids. Reading each group by id would cost one upstream call per group per user; instead
one listing of all groups serves every user of a request, and is kept for
``roles.names_cache_seconds`` (30 s by default) per API token, so a burst of reads (an
import, a lookup before each assignment) shares it. A group missing from a kept listing
(created since) triggers a fresh listing at once, so at most one listing is made per
request; a rename shows up in ``display`` within the lifetime (at once when it went through
this process's ``/Groups``). Role *writes* never trust a kept listing: they list afresh
(:mod:`roles`).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ..directory import DirectoryGroup
from ..telemetrytv.client import TelemetryTVSession

MAX_TOKENS = 64
"""Listings kept at once (one per API token); the least recently used goes first."""


@dataclass(frozen=True, slots=True)
class _Listing:
    names: Mapping[str, str]
    listed_at: float


class GroupNames:
    """Per-process, per-token listing of group id -> name, kept for a bounded time."""

    def __init__(self, lifetime_seconds: float, page_size: int) -> None:
        self.lifetime = lifetime_seconds
        self.page_size = page_size
        self._listings: OrderedDict[str, _Listing] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, key: str, wanted: Collection[str]) -> Mapping[str, str] | None:
        listing = self._listings.get(key)
        if listing is None or time.monotonic() - listing.listed_at >= self.lifetime:
            return None
        if any(group_id not in listing.names for group_id in wanted):
            return None
        self._listings.move_to_end(key)
        return listing.names

    async def names(
        self, session: TelemetryTVSession, key: str, wanted: Collection[str]
    ) -> Mapping[str, str]:
        """Names of the groups (at least those in ``wanted`` that exist).

        ``key`` identifies the API token (its fingerprint, never the token). Concurrent
        requests missing the same listing wait for one listing instead of each making one.
        """
        if not wanted:
            return {}
        found = self._fresh(key, wanted)
        if found is not None:
            return found
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._fresh(key, wanted)
            if found is not None:
                return found
            groups = await session.walk_groups(self.page_size)
            return self.remember(key, groups)

    def remember(self, key: str, groups: Sequence[DirectoryGroup]) -> Mapping[str, str]:
        """Keep a listing just made (a role write lists the groups itself)."""
        names = {group.id: group.name for group in groups}
        self._listings[key] = _Listing(names, time.monotonic())
        self._listings.move_to_end(key)
        while len(self._listings) > MAX_TOKENS:
            oldest, _ = self._listings.popitem(last=False)
            self._locks.pop(oldest, None)
        return names

    def forget(self, key: str) -> None:
        """Drop the token's listing (a group was created, renamed or deleted here)."""
        self._listings.pop(key, None)
