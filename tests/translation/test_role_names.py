"""The kept group names: read side by side when nothing is kept, and kept for a failing read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from scim_proxy.http.state import ProxyState
from scim_proxy.ops.config import Settings
from scim_proxy.telemetrytv import TelemetryTV
from scim_proxy.translation.memberships import Coordinator
from scim_proxy.translation.role_names import GroupNames

pytestmark = pytest.mark.anyio


class _Listings:
    """A TelemetryTV answering group listings, noting how many were in flight at once.

    Each listing gives the others a bounded number of turns of the event loop to start
    before it answers: listings allowed to run side by side all start; listings queued
    behind a lock never overlap.
    """

    def __init__(self) -> None:
        self.names = {"g1": "Sales"}
        self.started = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/user-groups"
        self.started += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        for _ in range(50):
            await asyncio.sleep(0)
        self.in_flight -= 1
        body = [{"id": k, "name": v} for k, v in self.names.items()]
        return httpx.Response(200, json=body, headers={"Total-Records-Count": str(len(body))})


@pytest.fixture
def upstream() -> _Listings:
    """The listings the adapter under test reaches."""
    return _Listings()


@pytest.fixture
async def adapter(upstream: _Listings) -> AsyncIterator[TelemetryTV]:
    """The TelemetryTV adapter, its calls answered by ``upstream``."""
    adapter = TelemetryTV(
        httpx.MockTransport(upstream.handler),
        base_url="http://telemetrytv.test",
    )
    yield adapter
    await adapter.aclose()


async def test_with_nothing_kept_concurrent_reads_list_side_by_side(
    adapter: TelemetryTV, upstream: _Listings
) -> None:
    names = GroupNames(lifetime_seconds=0, page_size=100)
    session = adapter.session("token")
    found = await asyncio.gather(*(names.names(session, "fp", ["g1"]) for _ in range(3)))
    assert found == [{"g1": "Sales"}] * 3
    assert upstream.started == 3, "lifetime 0: every read lists"
    assert upstream.most_in_flight == 3, "none waits behind another's listing"


async def test_with_a_lifetime_concurrent_reads_share_one_listing(
    adapter: TelemetryTV, upstream: _Listings
) -> None:
    names = GroupNames(lifetime_seconds=60, page_size=100)
    session = adapter.session("token")
    await asyncio.gather(*(names.names(session, "fp", ["g1"]) for _ in range(3)))
    assert upstream.started == 1


async def test_the_last_listing_is_kept_after_it_expires(
    adapter: TelemetryTV, upstream: _Listings
) -> None:
    names = GroupNames(lifetime_seconds=60, page_size=100)
    session = adapter.session("token")
    assert names.kept("fp") == {}
    await names.names(session, "fp", ["g1"])
    upstream.names["g1"] = "Sales EMEA"
    names.forget("fp")
    assert names.kept("fp") == {"g1": "Sales"}, "expired, still there for a failing read"
    assert await names.names(session, "fp", ["g1"]) == {"g1": "Sales EMEA"}
    assert upstream.started == 2, "an expired listing is never served as fresh"
    assert names.kept("other") == {}


async def test_the_proxy_keeps_names_as_long_as_the_setting_says(adapter: TelemetryTV) -> None:
    for lifetime in (12.0, Settings().roles.names_cache_seconds):
        settings = Settings().replace("roles", names_cache_seconds=lifetime)
        state = ProxyState(settings=settings, upstream=adapter, coordinator=Coordinator(settings))
        assert state.group_names.lifetime == lifetime
        assert state.group_names.page_size == settings.upstream.page_size
