"""A refused request's ``request`` event says why, as the client was told, without values."""

from __future__ import annotations

import socket
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.ops.redaction import mask_emails
from tests.conftest import BASE, TOKEN, UPSTREAM, fixture

pytestmark = pytest.mark.anyio


async def _outcome(response: Awaitable[httpx.Response]) -> tuple[httpx.Response, dict[str, Any]]:
    with capture_logs() as logs:
        answered = await response
    [event] = [e for e in logs if e["event"] == "request"]
    return answered, event


async def test_an_invalid_filter_is_logged_with_the_detail_the_client_got(
    client: httpx.AsyncClient,
) -> None:
    response, event = await _outcome(client.get('/Users?filter=nickName eq "ana"'))
    assert response.status_code == 400
    assert event["scim_type"] == "invalidFilter"
    assert event["detail"] == response.json()["detail"]
    assert "nickName" in event["detail"]


async def test_the_two_401s_have_different_reasons(client: httpx.AsyncClient) -> None:
    missing, missing_event = await _outcome(client.get("/Users", headers={"Authorization": ""}))
    refused, refused_event = await _outcome(
        client.get("/Users", headers={"Authorization": "Bearer not-the-token"})
    )
    assert missing.status_code == refused.status_code == 401
    assert missing_event["reason"] == "no_authorization_header"
    assert refused_event["reason"] == "token_refused_by_telemetrytv"
    assert missing_event["detail"] == missing.json()["detail"]
    assert refused_event["detail"] == refused.json()["detail"]
    assert "not-the-token" not in repr(refused_event)


async def test_a_success_carries_no_detail_or_reason(client: httpx.AsyncClient) -> None:
    response, event = await _outcome(client.get("/Users?count=1"))
    assert response.status_code == 200
    assert "detail" not in event
    assert "reason" not in event


def _proxy_over_telemetrytv_saying_the_email_is_taken(include_values: bool) -> httpx.AsyncClient:
    """A proxy whose TelemetryTV names the taken email in its 422, as real APIs do."""

    def telemetrytv(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[], headers={"Total-Records-Count": "0"})
        return httpx.Response(
            422,
            json={
                "message": "ana.lima@example.com has already been taken",
                "fields": {"email": ["ana.lima@example.com has already been taken"]},
            },
        )

    settings = (
        Settings()
        .replace("upstream", base_url=UPSTREAM)
        .replace("logging", include_values=include_values)
    )
    app = create_app(settings, upstream_transport=httpx.MockTransport(telemetrytv))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


async def test_a_detail_naming_an_email_is_logged_without_it_by_default() -> None:
    async with _proxy_over_telemetrytv_saying_the_email_is_taken(False) as client:
        response, event = await _outcome(client.post("/Users", json=fixture("okta/create-user")))
    assert response.status_code == 409
    assert "ana.lima@example.com" in response.json()["detail"]  # the admin needs it
    assert event["reason"] == "telemetrytv_conflict"
    assert "already exists" in event["detail"]
    assert "@" not in repr(event)


async def test_include_values_logs_the_whole_detail() -> None:
    async with _proxy_over_telemetrytv_saying_the_email_is_taken(True) as client:
        response, event = await _outcome(client.post("/Users", json=fixture("okta/create-user")))
    assert response.status_code == 409
    assert event["detail"] == response.json()["detail"]


def test_any_email_left_in_a_logged_detail_is_masked() -> None:
    assert mask_emails("User 'bob.o@example.co.uk' and x@y.io, not 'abc'") == (
        "User '[email]' and [email], not 'abc'"
    )
    assert mask_emails("no address here") == "no address here"


async def test_an_unreachable_telemetrytv_is_named_in_the_answer_and_the_log() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings = Settings().replace(
        "upstream", base_url=f"http://127.0.0.1:{closed}", retry_attempts=1
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        response, event = await _outcome(client.get("/Users"))
        await app.state.proxy.upstream.aclose()
    assert response.status_code == 503
    assert "connection refused" in response.json()["detail"]
    assert response.headers["retry-after"]
    assert event["reason"] == "telemetrytv_unreachable"
    assert event["detail"] == response.json()["detail"]
