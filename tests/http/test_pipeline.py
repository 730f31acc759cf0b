"""The app's own ASGI handling: the lifespan, scopes it does not serve, and how a request
whose answer cannot be sent is settled and logged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.pipeline import ProxyApp
from tests.conftest import TOKEN, proxy_settings

pytestmark = pytest.mark.anyio


def scope_of(authorization: str | None, path: str = "/scim/v2/Users") -> dict[str, Any]:
    headers = [(b"user-agent", b"Okta SCIM Client 1.0.0")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"count=1",
        "headers": headers,
        "client": ("203.0.113.9", 50000),
        "server": ("proxy.test", 80),
    }


async def serve(
    app: ProxyApp, scope: dict[str, Any], failing: str | None = None
) -> list[dict[str, Any]]:
    """One request; the messages sent (``send`` raises on the ``failing`` message type)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == failing:
            raise OSError("connection reset by peer")
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("failing", ["http.response.start", "http.response.body"])
async def test_an_answer_that_could_not_be_sent_settles_the_guard_as_unanswered(
    simulator: ASGIApp, failing: str
) -> None:
    # A 401 the client never got is no failure of its address; a 200 never delivered
    # proves no token.
    settings = proxy_settings().replace("auth", failure_limit=2)
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    with capture_logs() as logs:
        for _ in range(3):
            await serve(app, scope_of(None), failing)
        await serve(app, scope_of(f"Bearer {TOKEN}"), failing)
    assert [e for e in logs if e["event"].startswith("auth_")] == []
    assert [e["status"] for e in logs if e["event"] == "request"] == [401, 401, 401, 200]
    assert len(app.guard.proven) == 0
    # Nothing was counted against the address: its next request goes through.
    sent = await serve(app, scope_of(f"Bearer {TOKEN}"))
    assert sent[0]["status"] == 200


async def test_an_exception_before_the_answer_is_a_bare_500_with_one_request_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(proxy_settings())

    async def explode(request: Any) -> Any:
        raise RuntimeError("internal detail that must not leak")

    route = app.routes.find("GET", "/healthz").route
    assert route is not None
    monkeypatch.setattr(route, "endpoint", explode)
    with capture_logs() as logs:
        sent = await serve(app, scope_of(None, "/healthz"))
    assert sent[0]["status"] == 500
    assert (b"content-type", b"application/scim+json") in sent[0]["headers"]
    assert b"internal detail" not in sent[1]["body"]
    [event] = [e for e in logs if e["event"] == "request"]
    assert (event["status"], event["reason"], event["route"]) == (
        500,
        "unhandled_error",
        "/healthz",
    )
    assert event["request_id"] == dict(sent[0]["headers"])[b"x-request-id"].decode()
    assert [e["event"] for e in logs] == ["unhandled_error", "request"]


class ClosingTransport(httpx.MockTransport):
    """An upstream transport that notes being closed."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_the_lifespan_closes_the_upstream_pool_at_shutdown() -> None:
    upstream = ClosingTransport(lambda request: httpx.Response(200))
    app = create_app(proxy_settings(), upstream_transport=upstream)
    received = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return received.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert upstream.closed


async def test_a_failed_close_at_shutdown_is_logged_and_reported_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upstream = ClosingTransport(lambda request: httpx.Response(200))
    app = create_app(proxy_settings(), upstream_transport=upstream)

    async def refuse() -> None:
        raise OSError("cannot close")

    monkeypatch.setattr(app.state.proxy.coordinator, "aclose", refuse)
    received = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return received.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with capture_logs() as logs:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "cannot close" in sent[1]["message"]
    assert [e["event"] for e in logs] == ["shutdown_failed"]
    assert upstream.closed


async def test_a_websocket_is_refused() -> None:
    app = create_app(proxy_settings())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "websocket", "path": "/scim/v2/Users", "headers": []}, receive, send)
    assert [m["type"] for m in sent] == ["websocket.close"]
