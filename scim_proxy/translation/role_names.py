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

With a lifetime of 0 nothing is reused, so reads list at once, side by side, instead of
queueing for a listing they could not share. The last listing stays kept, however old (a
rename here only marks it expired), so a read whose listing fails can still show the
names it last had (:meth:`GroupNames.kept`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ..directory import DirectoryGroup
from ..ops.config import Settings
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

    @classmethod
    def from_settings(cls, settings: Settings) -> GroupNames:
        """Kept ``roles.names_cache_seconds``, listed ``upstream.page_size`` groups a page."""
        return cls(settings.roles.names_cache_seconds, settings.upstream.page_size)

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
        requests missing the same listing wait for one listing instead of each making one
        (with a lifetime above 0: otherwise each lists at once).
        """
        if not wanted:
            return {}
        found = self._fresh(key, wanted)
        if found is not None:
            return found
        if self.lifetime <= 0:
            # Nothing is reused: waiting for another read's listing would only queue reads.
            return self.remember(key, await session.walk_groups(self.page_size))
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
        """Expire the token's listing (a group was created, renamed or deleted here).

        Its names stay, for :meth:`kept` only: the next read lists afresh.
        """
        listing = self._listings.get(key)
        if listing is not None:
            self._listings[key] = _Listing(listing.names, -math.inf)

    def kept(self, key: str) -> Mapping[str, str]:
        """The token's last listing, however old; empty when none was made.

        What a read shows when a fresh listing fails: stale names beat failing the read.
        """
        listing = self._listings.get(key)
        return listing.names if listing is not None else {}
