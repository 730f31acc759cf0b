"""Every ``Retry-After`` of consecutive 429s is waited out, not only the first one.

Through the whole app and the production attempt policy: the upstream answers a user
read with 429s, each carrying its own ``Retry-After``, then with the user. The waits are
observed at ``asyncio.sleep`` (what the retries sleep with), which returns at once, so no
time passes and none is measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from tests.conftest import BASE, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio

RETRY_AFTERS = (7, 3, 11)
"""Each different, none the first backoff: a wait equal to one is that 429's own."""


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait anything asks ``asyncio.sleep`` for; it yields to the loop and returns."""
    asked: list[float] = []
    real_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def sleep(seconds: float, result: object = None) -> object:
        if seconds > 0:
            asked.append(seconds)
        await real_sleep(0)
        return result

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return asked


async def test_each_of_several_consecutive_429s_is_waited_out_for_its_retry_after(
    simulator: ASGIApp, sleeps: list[float]
) -> None:
    inner = httpx.ASGITransport(app=simulator)
    throttled: list[str] = []

    async def upstream(request: httpx.Request) -> httpx.Response:
        reading_a_user = request.method == "GET" and request.url.path.startswith("/users/")
        if reading_a_user and len(throttled) < len(RETRY_AFTERS):
            wait = RETRY_AFTERS[len(throttled)]
            throttled.append(request.url.path)
            return httpx.Response(429, headers={"Retry-After": str(wait)}, json={})
        return await inner.handle_async_request(request)

    settings = proxy_settings().replace("upstream", retry_attempts=4)
    app = create_app(settings, upstream_transport=httpx.MockTransport(upstream))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        created = await client.post("/Users", json=fixture("okta/create-user"))
        assert created.status_code == 201, created.text
        sleeps.clear()
        with capture_logs() as events:
            answer = await client.get(f"/Users/{created.json()['id']}")
    assert answer.status_code == 200, answer.text
    assert len(throttled) == len(RETRY_AFTERS)
    # The second and third 429s' Retry-After too, not a backoff in their place.
    assert [s for s in sleeps if s >= 1] == list(RETRY_AFTERS)
    retries = [e for e in events if e["event"] == "upstream_retry"]
    assert [e["wait_seconds"] for e in retries] == list(RETRY_AFTERS)
    assert all(e["retry_after_honoured"] for e in retries)
