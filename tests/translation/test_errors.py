"""Upstream failures turned into the SCIM errors an identity admin reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from scim_proxy.scim.errors import ScimError
from scim_proxy.telemetrytv import (
    AuthScheme,
    BadResponse,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    TelemetryTV,
    Unauthorized,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from scim_proxy.translation.errors import (
    DEFAULT_RETRY_AFTER,
    UNAVAILABLE_RETRY_AFTER,
    scim_error_for,
)

TOKEN = "tok-secret-5d2b7c"

# Every class, built the way the adapter builds it, and the SCIM status it must become.
CASES: list[tuple[UpstreamError, int, str | None]] = [
    (InvalidRequest("Validation error", fields={"email": "is invalid"}), 400, "invalidValue"),
    (Conflict("Email has already been taken", field="email"), 409, "uniqueness"),
    (Conflict("Email has already been taken", field="email", status=400), 409, "uniqueness"),
    (Conflict("Name has already been taken", field="name"), 409, "uniqueness"),
    (Conflict("Already taken", field=None), 409, "uniqueness"),
    (Unauthorized("Invalid token", status=401), 401, None),
    (Forbidden("User limit reached for your plan", status=403), 403, None),
    (NotFound("User not found", status=404), 404, None),
    (RateLimited("TelemetryTV is rate limiting", retry_after=7), 429, None),
    (RateLimited("TelemetryTV is rate limiting", retry_after=None), 429, None),
    (ServerError("", status=500), 502, None),
    (ServerError("Internal server error", status=503), 502, None),
    (BadResponse("a body that is not JSON"), 502, None),
    (UpstreamTimeout("TelemetryTV did not answer in time (GET)"), 503, None),
    (ConnectionFailed("connection refused"), 503, None),
    (UpstreamRejected("I'm a teapot", status=418), 502, None),
    (UpstreamUnavailable("gone"), 502, None),
    (UpstreamError("unknown"), 502, None),
]


def _id(case: tuple[UpstreamError, int, str | None]) -> str:
    return f"{type(case[0]).__name__}-{case[1]}"


@pytest.mark.parametrize(("exc", "status", "scim_type"), CASES, ids=map(_id, CASES))
def test_every_upstream_failure_has_a_scim_status_and_type(
    exc: UpstreamError, status: int, scim_type: str | None
) -> None:
    error = scim_error_for(exc, resource="User")
    assert isinstance(error, ScimError)
    assert error.status == status
    assert error.scim_type == scim_type
    assert error.detail.strip()
    assert error.body()["status"] == str(status)


@pytest.mark.parametrize(
    "answer",
    [
        {"status_code": 400, "json": {"error": "Validation error", "fields": [{"email": "bad"}]}},
        {"status_code": 401, "json": {"error": f"Invalid token {TOKEN}"}},
        {"status_code": 403, "json": {"error": "User limit reached"}},
        {"status_code": 404, "json": {"error": "User not found"}},
        {"status_code": 409, "json": {"error": "Email has already been taken"}},
        {"status_code": 429},
        {"status_code": 500, "text": "<html>oops</html>"},
        {"status_code": 200, "text": "not json"},
        {"side_effect": httpx.ConnectError("refused")},
        {"side_effect": httpx.ReadTimeout("slow")},
    ],
    ids=lambda answer: str(answer.get("status_code") or type(answer["side_effect"]).__name__),
)
@pytest.mark.anyio
async def test_errors_from_a_real_session_never_carry_the_token(answer: dict[str, Any]) -> None:
    with respx.mock(base_url="https://api.test") as router:
        route = router.get("/users/u1")
        if "side_effect" in answer:
            route.mock(side_effect=answer["side_effect"])
        else:
            route.respond(**answer)
        for scheme in AuthScheme:
            tv = TelemetryTV(
                httpx.AsyncHTTPTransport(), base_url="https://api.test", auth_scheme=scheme
            )
            with pytest.raises(UpstreamError) as caught:
                await tv.session(TOKEN).get_user("u1")
            await tv.aclose()
            error = scim_error_for(caught.value, resource="User")
            assert error.detail.strip()
            assert TOKEN not in error.detail
            assert all(TOKEN not in value for value in error.headers.values())


def test_unauthorized_upstream_challenges_the_client() -> None:
    error = scim_error_for(Unauthorized(f"Invalid token {TOKEN}", status=401))
    assert error.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in error.detail
    assert "token" in error.detail.lower()


def test_conflict_names_the_taken_value() -> None:
    email = scim_error_for(Conflict("taken", field="email"), resource="User")
    name = scim_error_for(Conflict("taken", field="name"), resource="Group")
    assert "email address" in email.detail
    assert "user" in email.detail
    assert "name" in name.detail
    assert "group" in name.detail


def test_invalid_request_passes_on_the_field_messages() -> None:
    exc = InvalidRequest("Validation error", fields={"email": "is invalid", "last_name": "blank"})
    detail = scim_error_for(exc, resource="User").detail
    assert "email: is invalid" in detail
    assert "last_name: blank" in detail


def test_forbidden_passes_on_telemetrytvs_text() -> None:
    error = scim_error_for(Forbidden("User limit of 25 reached for your plan", status=403))
    assert "User limit of 25 reached for your plan" in error.detail


def test_not_found_names_the_resource() -> None:
    assert "Group" in scim_error_for(NotFound("nope", status=404), resource="Group").detail


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (7, "7"),
        (7.0, "7"),
        (7.2, "8"),
        (0.4, "1"),
        (0.0, "1"),
        (None, str(DEFAULT_RETRY_AFTER)),
    ],
)
def test_rate_limit_answers_whole_seconds_to_wait(retry_after: float | None, header: str) -> None:
    error = scim_error_for(RateLimited("slow down", retry_after=retry_after))
    assert error.status == 429
    assert error.headers["Retry-After"] == header
    assert int(error.headers["Retry-After"]) >= 1
    assert header in error.detail


def test_default_retry_after_is_at_least_a_second() -> None:
    assert DEFAULT_RETRY_AFTER >= 1
    assert UNAVAILABLE_RETRY_AFTER >= 1


@pytest.mark.parametrize("exc", [UpstreamTimeout("slow"), ConnectionFailed("connection refused")])
def test_unreachable_upstream_asks_the_client_to_retry_later(exc: UpstreamError) -> None:
    error = scim_error_for(exc)
    assert error.status == 503
    assert int(error.headers["Retry-After"]) == UNAVAILABLE_RETRY_AFTER


def test_server_error_detail_names_the_upstream_status() -> None:
    assert "503" in scim_error_for(ServerError("x", status=503)).detail


@pytest.mark.parametrize(
    "exc",
    [
        Forbidden("x" * 100_000, status=403),
        InvalidRequest("x" * 100_000),
        Conflict("x" * 100_000, field="email"),
        BadResponse("x" * 100_000),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_very_long_upstream_message_is_truncated(exc: UpstreamError) -> None:
    detail = scim_error_for(exc).detail
    assert "x" * 300 in detail
    assert len(detail) < 1_000


def test_upstream_whitespace_is_collapsed_in_the_detail() -> None:
    detail = scim_error_for(Forbidden("plan\n\nlimit\t reached", status=403)).detail
    assert "plan limit reached" in detail
    assert "\n" not in detail
