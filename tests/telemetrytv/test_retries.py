"""Retries of upstream calls: what is retried, what is not, within the request's budget.

Every test runs its upstream calls in a task of its own, so the request bookkeeping
(budget, call counts) it opens never leaks into another test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import httpx
import orjson
import pytest
import respx
from aiohttp.client_reqrep import ConnectionKey
from structlog.testing import capture_logs

from scim_proxy.directory import NewUser, UserChanges
from scim_proxy.ops.context import RequestStats, request_stats, start_request_stats
from scim_proxy.telemetrytv import (
    AuthScheme,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    TelemetryTV,
    TelemetryTVSession,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)
from scim_proxy.telemetrytv.auth import authorization_header
from scim_proxy.telemetrytv.breaker import CircuitBreaker
from scim_proxy.telemetrytv.retries import RetryingAttempts
from scim_proxy.telemetrytv.transport import provably_unsent

pytestmark = pytest.mark.anyio

T = TypeVar("T")

BASE = "https://api.test"
TOKEN = "tok-retries-51"
ATTEMPTS = 4
USER_ID = "65a1f0c2e4b0a1b2c3d4e5f6"
GROUP_ID = "65a1f0c2e4b0a1b2c3d4e5a0"
USER = {
    "id": USER_ID,
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "user_group_ids": [],
    "disabled": False,
}
GROUP = {"id": GROUP_ID, "name": "Editors", "built_in": False}
NEW_USER = NewUser("ada@example.com", "Ada", "Lovelace", "pw-1!Aa")
EMAIL_TAKEN = {"error": "Email has already been taken"}
NAME_TAKEN = {"error": "Name has already been taken"}


@dataclass
class Api:
    """The mocked upstream and a retrying session of the adapter pointed at it."""

    router: respx.MockRouter
    session: TelemetryTVSession


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        tv = TelemetryTV(
            httpx.AsyncHTTPTransport(),
            base_url=BASE,
            attempts=RetryingAttempts(attempts=ATTEMPTS, initial_backoff=0.001, max_backoff=0.01),
            breaker=CircuitBreaker(failures=100),
        )
        yield Api(router, tv.session(TOKEN))
        await tv.aclose()


async def in_request(
    call: Callable[[], Awaitable[T]], *, budget: float | None = None
) -> tuple[T, RequestStats]:
    """Run ``call`` as one inbound request with this budget; its result and bookkeeping."""

    async def run() -> tuple[T, RequestStats]:
        stats = start_request_stats(budget)
        return await call(), stats

    return await asyncio.create_task(run())


async def failing_request(
    call: Callable[[], Awaitable[Any]], *, budget: float | None = None
) -> tuple[BaseException, RequestStats]:
    """Run ``call`` as one inbound request expected to fail; the error and bookkeeping."""

    async def run() -> tuple[BaseException, RequestStats]:
        stats = start_request_stats(budget)
        try:
            await call()
        except UpstreamError as exc:
            return exc, stats
        raise AssertionError("the call was expected to fail")

    return await asyncio.create_task(run())


def user_response(status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=USER)


# -- what an idempotent call retries -------------------------------------------------

TRANSIENT: list[Any] = [
    pytest.param(httpx.Response(429, headers={"Retry-After": "0"}), id="429"),
    pytest.param(httpx.Response(502), id="502"),
    pytest.param(httpx.Response(503), id="503"),
    pytest.param(httpx.Response(504), id="504"),
    pytest.param(httpx.ReadTimeout, id="read-timeout"),
    pytest.param(httpx.ConnectError, id="connect-error"),
]


@pytest.mark.parametrize("first", TRANSIENT)
async def test_an_idempotent_read_succeeds_on_the_attempt_after_a_transient_failure(
    api: Api, first: Any
) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(side_effect=[first, user_response()])
    user, stats = await in_request(lambda: api.session.get_user(USER_ID))
    assert user.id == USER_ID
    assert route.call_count == 2
    assert (stats.upstream_calls, stats.upstream_retries) == (2, 1)


async def test_a_429_retry_waits_what_retry_after_says(api: Api) -> None:
    api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), user_response()]
    )
    with capture_logs() as logs:
        await in_request(lambda: api.session.get_user(USER_ID))
    retries = [e for e in logs if e["event"] == "upstream_retry"]
    assert len(retries) == 1
    assert retries[0]["retry_after_honoured"] is True
    assert retries[0]["wait_seconds"] == 0
    assert retries[0]["reason"] == "RateLimited"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (500, ServerError),
        (400, InvalidRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
    ],
)
async def test_a_final_answer_is_not_retried(
    api: Api, status: int, cls: type[UpstreamError]
) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.Response(status, json={"error": "no"}), user_response()]
    )
    error, stats = await failing_request(lambda: api.session.get_user(USER_ID))
    assert type(error) is cls
    assert route.call_count == 1
    assert (stats.upstream_calls, stats.upstream_retries) == (1, 0)


@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (httpx.Response(429, headers={"Retry-After": "0"}), RateLimited),
        (httpx.Response(502), ServerError),
        (httpx.Response(503), ServerError),
        (httpx.Response(504), ServerError),
        (httpx.ReadTimeout, UpstreamTimeout),
        (httpx.ConnectError, ConnectionFailed),
    ],
)
async def test_after_every_attempt_failed_the_last_error_is_raised(
    api: Api, failure: Any, cls: type[UpstreamError]
) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[failure] * ATTEMPTS + [user_response()]
    )
    error, stats = await failing_request(lambda: api.session.get_user(USER_ID))
    assert type(error) is cls
    assert route.call_count == ATTEMPTS
    assert (stats.upstream_calls, stats.upstream_retries) == (ATTEMPTS, ATTEMPTS - 1)


async def test_the_error_of_the_last_attempt_is_the_one_raised(api: Api) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[
            httpx.ConnectError,
            httpx.Response(503),
            httpx.ReadTimeout,
            httpx.Response(502),
        ]
    )
    error, _ = await failing_request(lambda: api.session.get_user(USER_ID))
    assert isinstance(error, ServerError)
    assert error.status == 502
    assert route.call_count == ATTEMPTS


async def test_retries_are_counted_on_the_request(api: Api) -> None:
    api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), user_response()]
    )
    _, stats = await in_request(lambda: api.session.get_user(USER_ID))
    assert (stats.upstream_calls, stats.upstream_retries) == (3, 2)


# -- how long each wait is -------------------------------------------------------------


class FakeSleep:
    """Stands in for ``asyncio.sleep`` between attempts: notes each wait, waits none."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def waits_of(
    answers: list[Any],
    *,
    attempts: int = 4,
    initial: float = 1.0,
    maximum: float = 100.0,
    budget: float | None = None,
) -> tuple[list[float], BaseException | None, int]:
    """The waits between the attempts of one GET meeting ``answers``; its error, calls."""
    sleep = FakeSleep()
    with respx.mock(base_url=BASE) as router:
        route = router.get(f"/users/{USER_ID}").mock(side_effect=answers)
        tv = TelemetryTV(
            httpx.AsyncHTTPTransport(),
            base_url=BASE,
            attempts=RetryingAttempts(
                attempts=attempts, initial_backoff=initial, max_backoff=maximum, sleep=sleep
            ),
            breaker=CircuitBreaker(failures=100),
        )
        try:
            await in_request(lambda: tv.session(TOKEN).get_user(USER_ID), budget=budget)
            error = None
        except UpstreamError as exc:
            error = exc
        await tv.aclose()
    return sleep.waits, error, route.call_count


async def test_each_wait_is_longer_than_the_one_before() -> None:
    # With a 1 s initial backoff: 1-2 s, then 2-3 s, then 4-5 s (the jitter adds up to 1 s).
    waits, error, calls = await waits_of([httpx.Response(503)] * 4)
    assert isinstance(error, ServerError)
    assert calls == 4
    assert len(waits) == 3
    assert 1.0 <= waits[0] <= 2.0 <= waits[1] <= 3.0 < 4.0 <= waits[2] <= 5.0


async def test_waits_stop_growing_at_the_maximum() -> None:
    waits, _, calls = await waits_of([httpx.Response(502)] * 6, attempts=6, maximum=2.5)
    assert calls == 6
    assert 1.0 <= waits[0] <= 2.0 <= waits[1] <= 2.5
    assert waits[2:] == [2.5, 2.5, 2.5]


async def test_a_retry_after_in_between_is_waited_and_the_backoff_goes_on_growing() -> None:
    answers = [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        user_response(),
    ]
    waits, error, calls = await waits_of(answers)
    assert error is None
    assert calls == 4
    assert 1.0 <= waits[0] <= 2.0
    assert waits[1] == 7
    assert 4.0 <= waits[2] <= 5.0


async def test_a_grown_wait_that_would_pass_the_deadline_is_not_waited() -> None:
    # Budget 30 s, backoff 8 s: 8-16 s and 16-24 s fit, the third wait (32-40 s) does not.
    waits, error, calls = await waits_of([httpx.Response(503)] * 4, initial=8.0, budget=30)
    assert isinstance(error, ServerError)
    assert calls == 3
    assert len(waits) == 2
    assert 8.0 <= waits[0] <= 16.0 <= waits[1] <= 24.0


async def test_by_default_each_wait_is_asyncio_sleep_as_it_is_when_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tests of the whole app observe the waits by patching asyncio.sleep: the default
    # must look it up on each wait, not keep the function it found at import.
    asked: list[float] = []

    async def sleep(seconds: float, result: object = None) -> object:
        asked.append(seconds)
        return result

    monkeypatch.setattr(asyncio, "sleep", sleep)
    with respx.mock(base_url=BASE) as router:
        router.get(f"/users/{USER_ID}").mock(side_effect=[httpx.Response(503), user_response()])
        tv = TelemetryTV(
            httpx.AsyncHTTPTransport(),
            base_url=BASE,
            attempts=RetryingAttempts(attempts=2, initial_backoff=1.0, max_backoff=100.0),
        )
        await in_request(lambda: tv.session(TOKEN).get_user(USER_ID))
        await tv.aclose()
    assert len(asked) == 1
    assert 1.0 <= asked[0] <= 2.0


# -- a write that must not be repeated once sent -------------------------------------


@pytest.mark.parametrize(
    ("failure", "cls"),
    [(httpx.ConnectError, ConnectionFailed), (httpx.Response(429), RateLimited)],
)
async def test_a_membership_write_is_never_retried_by_the_adapter(
    api: Api, failure: Any, cls: type[UpstreamError]
) -> None:
    # Even a write that provably never left, or a 429, is not sent again after a wait:
    # its list would be stale by then. The membership loop re-reads and re-applies.
    route = api.router.patch(f"/users/{USER_ID}").mock(side_effect=[failure, user_response()])
    changes = UserChanges(group_ids=(GROUP_ID,))
    with pytest.raises(cls):
        await in_request(lambda: api.session.update_user(USER_ID, changes, retry_after_send=False))
    assert route.call_count == 1
    assert orjson.loads(route.calls[0].request.content) == {"user_group_ids": [GROUP_ID]}


@pytest.mark.parametrize(
    ("failure", "cls"),
    [(httpx.ReadTimeout, UpstreamTimeout), (httpx.Response(503), ServerError)],
)
async def test_a_membership_write_that_may_have_landed_is_not_retried(
    api: Api, failure: Any, cls: type[UpstreamError]
) -> None:
    route = api.router.patch(f"/users/{USER_ID}").mock(side_effect=[failure, user_response()])
    changes = UserChanges(group_ids=(GROUP_ID,))
    error, _ = await failing_request(
        lambda: api.session.update_user(USER_ID, changes, retry_after_send=False)
    )
    assert type(error) is cls
    assert route.call_count == 1


async def test_a_plain_update_is_retried_after_a_read_timeout(api: Api) -> None:
    route = api.router.patch(f"/users/{USER_ID}").mock(
        side_effect=[httpx.ReadTimeout, user_response()]
    )
    await in_request(lambda: api.session.update_user(USER_ID, UserChanges(given_name="Ada")))
    assert route.call_count == 2


# -- the request's time budget -------------------------------------------------------


async def test_a_retry_after_longer_than_the_budget_left_is_raised_at_once(api: Api) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "30"}), user_response()]
    )
    error, stats = await failing_request(lambda: api.session.get_user(USER_ID), budget=5)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 30
    assert route.call_count == 1
    assert (stats.upstream_calls, stats.upstream_retries) == (1, 0)


async def test_a_retry_after_within_the_budget_is_waited_out(api: Api) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), user_response()]
    )
    await in_request(lambda: api.session.get_user(USER_ID), budget=30)
    assert route.call_count == 2


async def test_no_call_is_made_once_the_budget_is_spent(api: Api) -> None:
    route = api.router.get(f"/users/{USER_ID}").mock(return_value=user_response())
    error, stats = await failing_request(lambda: api.session.get_user(USER_ID), budget=0)
    assert isinstance(error, UpstreamTimeout)
    assert error.request_sent is False
    assert route.call_count == 0
    assert stats.upstream_calls == 0


async def test_no_retry_starts_after_the_budget_ran_out(api: Api) -> None:
    def spend_the_budget(request: httpx.Request) -> httpx.Response:
        # The first attempt ends after the deadline, as a slow upstream would make it.
        request_stats().deadline = time.monotonic() - 1
        return httpx.Response(503)

    route = api.router.get(f"/users/{USER_ID}").mock(side_effect=spend_the_budget)
    error, stats = await failing_request(lambda: api.session.get_user(USER_ID), budget=30)
    assert isinstance(error, ServerError)
    assert route.call_count == 1
    assert (stats.upstream_calls, stats.upstream_retries) == (1, 0)


# -- duplicate-safe creates ----------------------------------------------------------


async def test_a_user_create_whose_reply_was_lost_returns_the_user_it_created(api: Api) -> None:
    create = api.router.post("/users").mock(
        side_effect=[httpx.ReadTimeout, httpx.Response(409, json=EMAIL_TAKEN)]
    )
    lookup = api.router.get("/users").respond(200, json=[USER])
    with capture_logs() as logs:
        user, _ = await in_request(lambda: api.session.create_user(NEW_USER))
    assert user.id == USER_ID
    assert (user.email, user.given_name, user.family_name) == ("ada@example.com", "Ada", "Lovelace")
    assert create.call_count == 2
    assert lookup.call_count == 1
    assert lookup.calls.last.request.url.params["email"] == "ada@example.com"
    assert any(e["event"] == "duplicate_create_recovered" for e in logs)


async def test_a_user_create_after_a_5xx_then_taken_email_returns_the_user(api: Api) -> None:
    api.router.post("/users").mock(
        side_effect=[httpx.Response(502), httpx.Response(409, json=EMAIL_TAKEN)]
    )
    api.router.get("/users").respond(200, json=[USER])
    user, _ = await in_request(lambda: api.session.create_user(NEW_USER))
    assert user.id == USER_ID


async def test_a_lost_create_meeting_someone_else_with_the_email_is_a_conflict(
    api: Api,
) -> None:
    api.router.post("/users").mock(
        side_effect=[httpx.ReadTimeout, httpx.Response(409, json=EMAIL_TAKEN)]
    )
    other = {**USER, "first_name": "Augusta", "last_name": "King"}
    lookup = api.router.get("/users").respond(200, json=[other])
    error, _ = await failing_request(lambda: api.session.create_user(NEW_USER))
    assert isinstance(error, Conflict)
    assert error.field == "email"
    assert lookup.call_count == 1


async def test_a_lost_create_whose_lookup_finds_nobody_is_a_conflict(api: Api) -> None:
    api.router.post("/users").mock(
        side_effect=[httpx.ReadTimeout, httpx.Response(409, json=EMAIL_TAKEN)]
    )
    api.router.get("/users").respond(200, json=[])
    error, _ = await failing_request(lambda: api.session.create_user(NEW_USER))
    assert isinstance(error, Conflict)


async def test_a_taken_email_on_the_first_attempt_is_a_conflict_without_lookup(
    api: Api,
) -> None:
    create = api.router.post("/users").respond(409, json=EMAIL_TAKEN)
    lookup = api.router.get("/users").respond(200, json=[USER])
    error, _ = await failing_request(lambda: api.session.create_user(NEW_USER))
    assert isinstance(error, Conflict)
    assert create.call_count == 1
    assert lookup.call_count == 0


async def test_a_taken_email_after_an_unsent_attempt_is_a_conflict_without_lookup(
    api: Api,
) -> None:
    # The first attempt never reached TelemetryTV, so the email was someone else's.
    create = api.router.post("/users").mock(
        side_effect=[httpx.ConnectError, httpx.Response(409, json=EMAIL_TAKEN)]
    )
    lookup = api.router.get("/users").respond(200, json=[USER])
    error, _ = await failing_request(lambda: api.session.create_user(NEW_USER))
    assert isinstance(error, Conflict)
    assert create.call_count == 2
    assert lookup.call_count == 0


async def test_a_group_create_whose_reply_was_lost_returns_the_group_it_created(
    api: Api,
) -> None:
    create = api.router.post("/user-groups").mock(
        side_effect=[httpx.ReadTimeout, httpx.Response(409, json=NAME_TAKEN)]
    )
    lookup = api.router.get("/user-groups").respond(200, json=[GROUP])
    group, _ = await in_request(lambda: api.session.create_group("Editors"))
    assert (group.id, group.name) == (GROUP_ID, "Editors")
    assert create.call_count == 2
    assert lookup.calls.last.request.url.params["name"] == "Editors"


async def test_a_lost_group_create_whose_name_is_held_by_another_is_a_conflict(
    api: Api,
) -> None:
    api.router.post("/user-groups").mock(
        side_effect=[httpx.ReadTimeout, httpx.Response(409, json=NAME_TAKEN)]
    )
    # The lookup answers with a near miss only: not the group this call meant to create.
    api.router.get("/user-groups").respond(200, json=[{**GROUP, "name": "editors"}])
    error, _ = await failing_request(lambda: api.session.create_group("Editors"))
    assert isinstance(error, Conflict)


async def test_a_taken_group_name_on_the_first_attempt_is_a_conflict_without_lookup(
    api: Api,
) -> None:
    create = api.router.post("/user-groups").respond(409, json=NAME_TAKEN)
    lookup = api.router.get("/user-groups").respond(200, json=[GROUP])
    error, _ = await failing_request(lambda: api.session.create_group("Editors"))
    assert isinstance(error, Conflict)
    assert error.field == "name"
    assert create.call_count == 1
    assert lookup.call_count == 0


# -- which failures provably never delivered the request -----------------------------


def _connect_timeout_caused_by(cause: BaseException) -> httpx.ConnectTimeout:
    exc = httpx.ConnectTimeout("connect failed")
    exc.__cause__ = cause
    return exc


def _connect_error_caused_by(cause: BaseException) -> httpx.ConnectError:
    exc = httpx.ConnectError("connection failed")
    exc.__cause__ = cause
    return exc


def _connector_error() -> aiohttp.ClientConnectorError:
    key = ConnectionKey(
        host="api.test",
        port=443,
        is_ssl=True,
        ssl=True,
        proxy=None,
        proxy_auth=None,
        proxy_headers_hash=None,
    )
    return aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))


@pytest.mark.parametrize(
    ("exc", "unsent"),
    [
        pytest.param(httpx.ConnectError("refused"), True, id="connect-error"),
        pytest.param(httpx.ConnectTimeout("slow"), True, id="connect-timeout"),
        pytest.param(httpx.PoolTimeout("busy"), True, id="pool-timeout"),
        pytest.param(httpx.ReadTimeout("slow"), False, id="read-timeout"),
        pytest.param(httpx.WriteTimeout("slow"), False, id="write-timeout"),
        pytest.param(httpx.RemoteProtocolError("reset"), False, id="remote-protocol-error"),
        pytest.param(
            _connect_timeout_caused_by(aiohttp.ServerDisconnectedError()),
            False,
            id="aiohttp-server-disconnected",
        ),
        pytest.param(
            _connect_timeout_caused_by(_connector_error()), True, id="aiohttp-connector-error"
        ),
        pytest.param(
            _connect_error_caused_by(aiohttp.ServerDisconnectedError()),
            False,
            id="connect-error-from-aiohttp-disconnect",
        ),
        pytest.param(
            _connect_error_caused_by(_connector_error()),
            True,
            id="connect-error-from-aiohttp-connector-error",
        ),
    ],
)
def test_only_a_failure_to_connect_is_provably_unsent(exc: httpx.HTTPError, unsent: bool) -> None:
    assert provably_unsent(exc) is unsent


# -- found by review: lost deletes, old resources, the slot wait, Basic echoes --------


@pytest.mark.parametrize(
    ("delete", "path"),
    [("delete_user", f"/users/{USER_ID}"), ("delete_group", f"/user-groups/{GROUP_ID}")],
)
async def test_a_delete_whose_reply_was_lost_is_done_when_the_retry_meets_404(
    api: Api, delete: str, path: str
) -> None:
    route = api.router.delete(path).mock(
        side_effect=[httpx.ReadTimeout, httpx.Response(404, json={"error": "Not found"})]
    )
    target = USER_ID if delete == "delete_user" else GROUP_ID
    await in_request(lambda: getattr(api.session, delete)(target))
    assert route.call_count == 2


async def test_a_first_delete_meeting_404_is_still_not_found(api: Api) -> None:
    api.router.delete(f"/users/{USER_ID}").respond(404, json={"error": "Not found"})
    error, _ = await failing_request(lambda: api.session.delete_user(USER_ID))
    assert isinstance(error, NotFound)


async def test_a_lost_reply_create_never_claims_an_old_or_built_in_group(api: Api) -> None:
    api.router.post("/user-groups").mock(
        side_effect=[httpx.Response(503), httpx.Response(409, json=NAME_TAKEN)]
    )
    old = {**GROUP, "created_at": "2020-01-01T00:00:00Z"}
    api.router.get("/user-groups").respond(200, json=[old])
    error, _ = await failing_request(lambda: api.session.create_group("Editors"))
    assert isinstance(error, Conflict)


async def test_waiting_for_an_upstream_slot_counts_against_the_budget() -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get(f"/users/{USER_ID}").respond(200, json=USER)
        tv = TelemetryTV(httpx.AsyncHTTPTransport(), base_url=BASE, max_concurrent_calls=1)
        await tv.gate.acquire()  # the only slot is taken and never given back
        error, _ = await failing_request(lambda: tv.session(TOKEN).get_user(USER_ID), budget=0.05)
        assert isinstance(error, UpstreamTimeout)
        assert error.request_sent is False
        assert not router.calls
        await tv.aclose()


async def test_a_basic_credential_echoed_upstream_is_redacted() -> None:
    with respx.mock(base_url=BASE) as router:
        tv = TelemetryTV(httpx.AsyncHTTPTransport(), base_url=BASE, auth_scheme=AuthScheme.basic)
        session = tv.session(TOKEN)
        echo = authorization_header(AuthScheme.basic, TOKEN)
        router.get(f"/users/{USER_ID}").respond(400, json={"error": f"bad header {echo}"})
        error, _ = await failing_request(lambda: session.get_user(USER_ID))
        assert echo.partition(" ")[2] not in error.message
        assert TOKEN not in error.message
        await tv.aclose()


async def test_each_attempt_logs_its_own_wait(api: Api) -> None:
    api.router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), user_response()]
    )
    with capture_logs() as logs:
        await in_request(lambda: api.session.get_user(USER_ID))
    attempts = [e for e in logs if e["event"] == "upstream_call"]
    assert [(e["attempt"], e["retry_after_honoured"]) for e in attempts] == [
        (1, False),
        (2, True),
    ]
