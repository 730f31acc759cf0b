"""Every detail an upstream failure can become reads as one sentence, with no clause said
twice: ``TelemetryTV could not be reached (connection refused); the request may be
retried``, not ``TelemetryTV could not be reached (could not reach TelemetryTV (connection
refused))``.

The failures are made the way the adapter makes them: a real session against respx
answers (TelemetryTV's own error bodies, as the simulator words them, and bare statuses),
a refused connection on the real network, and the adapter's and the membership writers'
own failures; each is read as every resource, and inside the membership errors that pass
it on.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from scim_proxy.telemetrytv import (
    AuthScheme,
    BadResponse,
    TelemetryTV,
    TelemetryTVSession,
    UpstreamError,
)
from scim_proxy.telemetrytv.errors import CircuitOpen
from scim_proxy.telemetrytv.transport import TransportKind, build_transport
from scim_proxy.translation.errors import scim_error_for
from scim_proxy.translation.memberships.rounds import incomplete, stop_if_told_to_wait

BASE = "https://api.test"

ANSWERS: dict[str, dict[str, Any]] = {
    "400 with fields": {
        "status_code": 400,
        "json": {"error": "Validation error", "fields": [{"email": ["is invalid"]}]},
    },
    "422 bare": {"status_code": 422},
    "401": {"status_code": 401, "json": {"error": "Unauthorized"}},
    "401 bare": {"status_code": 401},
    "403 plan": {
        "status_code": 403,
        "json": {"error": "Your plan's user limit (5 users) has been reached"},
    },
    "403 bare": {"status_code": 403},
    "404": {"status_code": 404, "json": {"error": "User not found"}},
    "409": {"status_code": 409, "json": {"error": "Email has already been taken"}},
    "409 saying what we say": {
        "status_code": 409,
        "json": {"error": "A user with this email address already exists."},
    },
    "409 bare": {"status_code": 409},
    "418": {"status_code": 418, "json": {"error": "I'm a teapot"}},
    "429": {"status_code": 429, "headers": {"Retry-After": "7"}},
    "500": {"status_code": 500, "json": {"error": "Internal server error"}},
    "503 html": {"status_code": 503, "text": "<html>down</html>"},
    "302": {"status_code": 302, "headers": {"Location": "/login"}},
    "200 not JSON": {"status_code": 200, "text": "<html>login</html>"},
    "200 user without id": {"status_code": 200, "json": {"email": "a@b.c"}},
    "timeout": {"side_effect": httpx.ReadTimeout("slow")},
}  # fmt: skip


def assert_one_sentence(detail: str) -> None:
    """One sentence, no clause said twice, no parentheses inside parentheses."""
    words = re.findall(r"[a-z0-9']+", detail.lower())
    trigrams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    assert sorted({t for t in trigrams if trigrams.count(t) > 1}) == [], detail
    depth = 0
    for char in detail:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth <= 1, f"nested parentheses: {detail}"
    assert depth == 0, detail
    assert not re.search(r"[.;:,]\s*[.;:,]", detail), detail
    assert not re.search(r"[.!?]\s", detail), f"two sentences: {detail}"


async def upstream_error(
    call: Callable[[TelemetryTVSession], Awaitable[Any]], **answer: Any
) -> UpstreamError:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        route = router.route()
        if "side_effect" in answer:
            route.mock(side_effect=answer["side_effect"])
        else:
            route.respond(**answer)
        tv = TelemetryTV(httpx.AsyncHTTPTransport(), base_url=BASE, auth_scheme=AuthScheme.token)
        try:
            with pytest.raises(UpstreamError) as caught:
                await call(tv.session("tok"))
        finally:
            await tv.aclose()
    return caught.value


def details_of(exc: UpstreamError) -> list[str]:
    """What the admin can read of ``exc``: as each resource, and inside membership errors."""
    details = [scim_error_for(exc, resource=r).detail for r in ("User", "Group", "Role")]
    details.append(incomplete(done=1, total=3, failure=exc, why="").detail)
    try:
        stop_if_told_to_wait([exc], done=2)
    except UpstreamError:  # pragma: no cover - it raises a SCIM error, not this
        raise
    except Exception as told:  # the MembershipIncomplete for a throttled or paused upstream
        details.append(str(getattr(told, "detail", told)))
    return details


@pytest.mark.parametrize("answer", list(ANSWERS), ids=list(ANSWERS))
@pytest.mark.anyio
async def test_every_upstream_answer_reads_as_one_sentence(answer: str) -> None:
    for call in (lambda s: s.get_user("u1"), lambda s: s.list_users(page=1, per_page=10)):
        exc = await upstream_error(call, **ANSWERS[answer])
        for detail in details_of(exc):
            assert_one_sentence(detail)


@pytest.mark.anyio
async def test_a_refused_connection_reads_as_one_sentence() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    tv = TelemetryTV(
        build_transport(transport=TransportKind.aiohttp, pool_size=2),
        base_url=f"http://localhost:{closed}",
        auth_scheme=AuthScheme.token,
    )
    try:
        with pytest.raises(UpstreamError) as caught:
            await tv.session("tok").get_user("u1")
    finally:
        await tv.aclose()
    detail = scim_error_for(caught.value, resource="User").detail
    assert detail == (
        "TelemetryTV could not be reached (connection refused); the request may be retried"
    )
    for each in details_of(caught.value):
        assert_one_sentence(each)


@pytest.mark.anyio
async def test_a_value_too_long_to_send_is_not_called_telemetrytvs_refusal() -> None:
    exc = await upstream_error(
        lambda s: s.find_user_by_email("a" * 70_000 + "@x.io"), status_code=200, json=[]
    )
    detail = scim_error_for(exc, resource="User").detail
    assert "refused" not in detail
    assert "nothing was sent to TelemetryTV" in detail
    assert_one_sentence(detail)


@pytest.mark.parametrize(
    "exc",
    [CircuitOpen(4.2), BadResponse("a group list other than the one written")],
    ids=["breaker", "membership read back"],
)
def test_the_adapters_own_failures_read_as_one_sentence(exc: UpstreamError) -> None:
    for detail in details_of(exc):
        assert_one_sentence(detail)


def test_a_membership_failure_of_the_proxys_own_reads_as_one_sentence() -> None:
    for why in (
        "are waiting for another change to the same users (their lock stayed busy)",
        "could not be verified as in place (undone again, or no time left to check)",
        "kept being undone by concurrent changes",
    ):
        assert_one_sentence(incomplete(done=1, total=3, failure=None, why=why).detail)
