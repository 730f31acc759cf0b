"""A large PATCH lets the event loop serve others while it is read and applied.

No timing is measured. A ticker task counts the turns the event loop gives it; the turns
it got while the proxy was reading the PATCH (after the last byte of the body was sent,
before the first upstream call) and while it was applying it (after the user was read,
before the write) show whether that work held the loop. Done in one piece, the ticker
gets a few turns (the awaits around it); done a slice at a time, one per slice at least.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from scim_proxy.scim.payloads import PATCH_SLICE
from tests.conftest import BASE, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPERATIONS = 1000


class Ticker:
    """Counts event-loop turns, and notes the count when told something happened."""

    def __init__(self) -> None:
        self.ticks = 0
        self.marks: list[tuple[str, int]] = []
        self.running = True

    async def run(self) -> None:
        while self.running:
            self.ticks += 1
            await asyncio.sleep(0)

    def mark(self, what: str) -> None:
        self.marks.append((what, self.ticks))

    def turns_between(self, first: str, then: str) -> int:
        marks = dict(reversed(self.marks))  # the first time each happened
        return marks[then] - marks[first]


def big_patch() -> dict[str, Any]:
    # One add keeps it off the one-write path, so it is applied to the user as read.
    emails = [{"op": "add", "path": "emails", "value": [{"value": "second@example.com"}]}]
    names = [
        {"op": "replace", "path": "name.givenName", "value": f"A{n}"} for n in range(OPERATIONS - 1)
    ]
    return {"schemas": [PATCH_OP], "Operations": emails + names}


def app_watched_by(ticker: Ticker, simulator: ASGIApp, **server: Any) -> ASGIApp:
    inner = httpx.ASGITransport(app=simulator)

    async def upstream(request: httpx.Request) -> httpx.Response:
        ticker.mark(f"{request.method} upstream")
        response = await inner.handle_async_request(request)
        await response.aread()
        ticker.mark(f"{request.method} upstream answered")
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    settings = proxy_settings()
    if server:
        settings = settings.replace("server", **server)
    return create_app(settings, upstream_transport=httpx.MockTransport(upstream))


def client_of(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
    )


async def test_the_event_loop_keeps_turning_while_a_large_patch_is_read_and_applied(
    simulator: ASGIApp,
) -> None:
    ticker = Ticker()
    app = app_watched_by(ticker, simulator)
    async with client_of(app) as client:
        created = await client.post("/Users", json=fixture("okta/create-user"))
        user_id = created.json()["id"]
        body = orjson.dumps(big_patch())

        async def sent() -> AsyncIterator[bytes]:
            yield body
            ticker.mark("body sent")

        ticking = asyncio.create_task(ticker.run())
        ticker.marks.clear()
        answer = await client.patch(
            f"/Users/{user_id}", content=sent(), headers={"Content-Type": "application/json"}
        )
        ticker.running = False
        await ticking
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"]["givenName"] == f"A{OPERATIONS - 2}"
    slices = OPERATIONS // PATCH_SLICE
    assert ticker.turns_between("body sent", "GET upstream") >= slices
    assert ticker.turns_between("GET upstream answered", "PATCH upstream") >= slices


async def test_a_large_patch_past_its_time_budget_is_answered_503_unwritten(
    simulator: ASGIApp,
) -> None:
    ticker = Ticker()
    app = app_watched_by(ticker, simulator, request_budget_seconds=1)
    async with client_of(app) as client:
        created = await client.post("/Users", json=fixture("okta/create-user"))
        body = orjson.dumps(big_patch())

        async def slowly() -> AsyncIterator[bytes]:
            # The body takes longer than the whole budget (not the body timeout, 10 s).
            await asyncio.sleep(1.2)
            yield body

        ticker.marks.clear()
        answer = await client.patch(
            f"/Users/{created.json()['id']}",
            content=slowly(),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "time budget" in answer.json()["detail"]
    assert ticker.marks == []  # nothing was read or written upstream
