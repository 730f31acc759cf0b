"""The exchange log behind ``check``'s report: what it keeps, and what it never does."""

from __future__ import annotations

import gzip

import httpx
import orjson
import pytest

from scim_proxy.telemetrytv.recording import REDACTED, ExchangeLog

pytestmark = pytest.mark.anyio

TOKEN = "tok-9f8e7d6c5b"
MARKER = "scim-proxy-check-abc123"


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/users" and request.method == "GET":
        return httpx.Response(
            200,
            json=[
                {"id": "a1", "email": "someone@example.com", "first_name": "Some"},
                {"id": "b2", "email": f"{MARKER}@example.invalid"},
            ],
        )
    if request.url.path == "/gzip":
        body = gzip.compress(orjson.dumps({"id": "c3", "note": f"echo {TOKEN}"}))
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})
    if request.url.path == "/down":
        raise httpx.ConnectError("refused", request=request)
    return httpx.Response(201, json={"id": "u1", "password_hint": "none"})


async def _client(log: ExchangeLog) -> httpx.AsyncClient:
    inner = httpx.AsyncClient(transport=httpx.MockTransport(_answer))
    return httpx.AsyncClient(transport=log.transport(inner))


async def test_headers_are_never_kept_and_password_fields_are_redacted() -> None:
    log = ExchangeLog(secrets=[TOKEN], marker=MARKER)
    async with await _client(log) as http:
        response = await http.post(
            "http://tv.test/users",
            json={"email": "x@example.invalid", "password": "hunter2-long"},
            headers={"Authorization": f"Token {TOKEN}"},
        )
    assert response.status_code == 201
    assert response.json()["id"] == "u1", "the caller gets the answer as sent"
    [exchange] = log.exchanges
    assert exchange.sent == {"email": "x@example.invalid", "password": REDACTED}
    assert exchange.received == {"id": "u1", "password_hint": "none"}
    assert TOKEN not in repr(exchange)


async def test_other_peoples_objects_in_a_listing_are_kept_by_id_only() -> None:
    log = ExchangeLog(marker=MARKER)
    async with await _client(log) as http:
        listed = await http.get("http://tv.test/users", params={"email": "x"})
    assert len(listed.json()) == 2, "the caller gets the whole answer"
    [exchange] = log.exchanges
    assert exchange.target == "/users?email=x"
    stranger, own = exchange.received
    assert stranger["id"] == "a1"
    assert "someone@example.com" not in orjson.dumps(exchange.received).decode()
    assert own["email"] == f"{MARKER}@example.invalid"


async def test_a_secret_is_replaced_wherever_it_appears_even_when_added_later() -> None:
    log = ExchangeLog(marker=MARKER)
    async with await _client(log) as http:
        answer = await http.get("http://tv.test/gzip")
    assert answer.json()["note"] == f"echo {TOKEN}", "a compressed answer is passed on decoded"
    log.add_secret(TOKEN)
    assert log.redact(log.exchanges[0].received) == {"id": "c3", "note": f"echo {REDACTED}"}
    assert log.redact(["x", {"Password": "p"}, 3]) == ["x", {"Password": REDACTED}, 3]


async def test_no_answer_is_recorded_as_what_went_wrong() -> None:
    log = ExchangeLog()
    async with await _client(log) as http:
        with pytest.raises(httpx.ConnectError):
            await http.delete("http://tv.test/down")
    [exchange] = log.exchanges
    assert exchange.status is None
    assert exchange.received_text().startswith("no answer: ")
