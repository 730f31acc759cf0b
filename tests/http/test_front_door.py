"""The front door answers and settles each request as the middleware stack it replaced did."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.front_door import FrontDoor
from tests.conftest import TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

ADDRESS = "203.0.113.9"


def scope_of(authorization: str | None) -> dict[str, Any]:
    headers = [(b"user-agent", b"Okta SCIM Client 1.0.0")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/scim/v2/Users",
        "raw_path": b"/scim/v2/Users",
        "root_path": "",
        "query_string": b"count=1",
        "headers": headers,
        "client": (ADDRESS, 50000),
        "server": ("proxy.test", 80),
    }


async def serve_to_a_client_gone_at(app: Starlette, scope: dict[str, Any], failing: str) -> None:
    """One request whose answer cannot be sent: ``send`` raises on the ``failing`` message."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == failing:
            raise OSError("connection reset by peer")

    await app(scope, receive, send)


@pytest.mark.parametrize("failing", ["http.response.start", "http.response.body"])
async def test_an_answer_that_could_not_be_sent_settles_the_guard_as_unanswered(
    simulator: Starlette, failing: str
) -> None:
    # The middleware stack told the guard a status only once the response was sent in
    # full: a 401 never delivered is no failure of its address, a 200 proves no token.
    settings = proxy_settings().replace("auth", failure_limit=2)
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    door = app.middleware_stack
    assert isinstance(door, FrontDoor)
    with capture_logs() as logs:
        for _ in range(3):
            await serve_to_a_client_gone_at(app, scope_of(None), failing)
        await serve_to_a_client_gone_at(app, scope_of(f"Bearer {TOKEN}"), failing)
    assert [e for e in logs if e["event"].startswith("auth_")] == []
    assert [e["status"] for e in logs if e["event"] == "request"] == [401, 401, 401, 200]
    assert len(door.guard.proven) == 0
    # Nothing was counted against the address: its next request goes through.
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_of(f"Bearer {TOKEN}"), receive, send)
    assert sent[0]["status"] == 200
