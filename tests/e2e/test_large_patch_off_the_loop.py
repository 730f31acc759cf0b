"""A large PATCH is read and applied off the event loop, under the request's time budget.

No timing is measured: the work is held until the event loop has answered a health probe
meanwhile, which it could not do if the work ran on it (the hold gives up after a while,
and the PATCH then fails the test instead of hanging it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from scim_proxy.http.app import create_app
from scim_proxy.http.routes import users as user_routes
from scim_proxy.scim import payloads
from scim_proxy.scim.offload import LARGE_WORK
from tests.conftest import BASE, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Held:
    """Wraps ``read_patch``: a large read waits until released (or gives up)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.threads: list[int] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        body = args[1]
        if len(body.get("Operations", ())) >= LARGE_WORK:
            self.threads.append(threading.get_ident())
            self.entered.set()
            if not self.release.wait(timeout=10):
                raise AssertionError("the event loop never got to answer the probe")
        return payloads.read_patch(*args, **kwargs)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    wrapper = Held()
    monkeypatch.setattr(user_routes, "read_patch", wrapper)
    yield wrapper
    wrapper.release.set()


def big_patch() -> dict[str, Any]:
    names = [{"op": "replace", "path": "name.givenName", "value": f"A{n}"} for n in range(200)]
    return {"schemas": [PATCH_OP], "Operations": names}


async def wait_for(event: threading.Event) -> None:
    while not event.is_set():  # noqa: ASYNC110 - a thread's event, not an asyncio one
        await asyncio.sleep(0.01)


async def test_the_event_loop_serves_a_probe_while_a_large_patch_is_read(
    client: httpx.AsyncClient, held: Held
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    patching = asyncio.create_task(client.patch(f"/Users/{user_id}", json=big_patch()))
    await wait_for(held.entered)
    probe = await client.get("http://proxy.test/healthz")
    assert probe.status_code == 200
    held.release.set()
    answer = await patching
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"]["givenName"] == "A199"
    assert held.threads
    assert held.threads[0] != threading.get_ident()


async def test_a_large_patch_over_its_time_budget_is_answered_503(
    simulator: Starlette, held: Held
) -> None:
    settings = proxy_settings().replace("server", request_budget_seconds=1)
    app = create_app(
        settings, http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator))
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        created = await client.post("/Users", json=fixture("okta/create-user"))
        # Held past the budget: the request answers rather than waiting for the work.
        answer = await client.patch(f"/Users/{created.json()['id']}", json=big_patch())
    held.release.set()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "time budget" in answer.json()["detail"]
