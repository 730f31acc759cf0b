"""No cookie an upstream sets ever rides along with a later call, same token or another.

End to end on the production transport: the whole proxy (``create_app`` building its own
aiohttp-backed client, as ``serve`` does) in front of a real HTTP server reached by host
name. aiohttp keeps no cookie from an IP-address host, so an upstream at 127.0.0.1 could
never show a leak: the upstream here is ``localhost``.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings, TransportKind
from scim_proxy.simulator import SimulatorSettings, create_simulator_app
from tests.conftest import BASE, TOKEN

pytestmark = pytest.mark.anyio

STRANGER = "another-companys-token"


class CookieSettingUpstream:
    """The simulator behind a layer that sets a session cookie naming the caller's tenant,
    as a load balancer with sticky sessions would, and records the ``Cookie`` it is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cookies_sent: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        cookie = headers.get(b"cookie")
        self.cookies_sent.append(cookie.decode() if cookie is not None else None)
        tenant = hashlib.sha256(headers.get(b"authorization", b"")).hexdigest()[:12]

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message["headers"],
                    (b"set-cookie", f"sid=tenant-{tenant}; Path=/".encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_cookie)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[CookieSettingUpstream, str]]:
    app = CookieSettingUpstream(create_simulator_app(SimulatorSettings(token=TOKEN, users=2)))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections wait in the backlog until the server accepts them
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # A host name: aiohttp's jar would keep this host's cookies (not an IP's).
        yield app, f"http://localhost:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_no_upstream_call_carries_a_cookie_an_earlier_answer_set(
    upstream: tuple[CookieSettingUpstream, str],
) -> None:
    recorder, url = upstream
    settings = Settings().replace("upstream", base_url=url, transport=TransportKind.aiohttp)
    app = create_app(settings)  # the production client: no http_client handed in
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as proxy:
            for token in (TOKEN, TOKEN, STRANGER, TOKEN):
                answer = await proxy.get(
                    "/Users?count=1", headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == (200 if token == TOKEN else 401)
    finally:
        await app.state.proxy.upstream.aclose()
    # Every answer set a cookie; none came back, with the same token or another one.
    assert len(recorder.cookies_sent) >= 4
    assert set(recorder.cookies_sent) == {None}
