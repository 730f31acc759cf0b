"""The circuit breaker: opens after a run of failures, cools down, probes, closes.

The breaker's clock is a fake one the tests move by hand: no test sleeps or measures time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from scim_proxy.telemetrytv import ConnectionFailed, NotFound, TelemetryTV, TelemetryTVSession
from scim_proxy.telemetrytv.breaker import BreakerState, CircuitBreaker
from scim_proxy.telemetrytv.errors import CircuitOpen
from scim_proxy.telemetrytv.retries import RetryingAttempts

BASE = "https://api.test"
TOKEN = "tok-breaker-77"
USER_ID = "65a1f0c2e4b0a1b2c3d4e5f6"
USER = {"id": USER_ID, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
COOLDOWN = 10.0


class Clock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def breaker(clock: Clock, failures: int = 3) -> CircuitBreaker:
    return CircuitBreaker(failures=failures, cooldown=COOLDOWN, clock=clock)


def fail(b: CircuitBreaker, times: int) -> None:
    """``times`` calls that got no usable answer."""
    for _ in range(times):
        b.before_call()
        b.record_failure()


def state_of(b: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (not narrowed by an earlier check)."""
    return b.state


def opened(clock: Clock) -> CircuitBreaker:
    b = breaker(clock)
    fail(b, 3)
    assert state_of(b) is BreakerState.open
    return b


def state_events(logs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(e["previous"], e["state"]) for e in logs if e["event"] == "breaker_state"]


# -- closed -> open ------------------------------------------------------------------


def test_a_new_breaker_is_closed_and_lets_calls_through(clock: Clock) -> None:
    b = breaker(clock)
    assert state_of(b) is BreakerState.closed
    for _ in range(10):
        b.before_call()
        b.record_success()
    assert state_of(b) is BreakerState.closed


def test_the_breaker_stays_closed_below_the_failure_threshold(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 2)
    assert state_of(b) is BreakerState.closed
    b.before_call()  # does not raise


def test_the_breaker_opens_after_the_threshold_of_consecutive_failures(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 3)
    assert state_of(b) is BreakerState.open
    with pytest.raises(CircuitOpen):
        b.before_call()


def test_a_success_resets_the_run_of_failures(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 2)
    b.before_call()
    b.record_success()
    fail(b, 2)
    assert state_of(b) is BreakerState.closed
    fail(b, 1)
    assert state_of(b) is BreakerState.open


def test_an_open_breaker_says_how_much_cool_down_is_left(clock: Clock) -> None:
    b = opened(clock)
    with pytest.raises(CircuitOpen) as first:
        b.before_call()
    assert first.value.retry_after == pytest.approx(COOLDOWN)
    assert first.value.request_sent is False
    clock.advance(3)
    with pytest.raises(CircuitOpen) as later:
        b.before_call()
    assert later.value.retry_after == pytest.approx(COOLDOWN - 3)


def test_the_breaker_stays_open_until_the_cool_down_is_over(clock: Clock) -> None:
    b = opened(clock)
    clock.advance(COOLDOWN - 0.01)
    assert state_of(b) is BreakerState.open
    with pytest.raises(CircuitOpen):
        b.before_call()


# -- half-open: one probe ------------------------------------------------------------


def test_after_the_cool_down_exactly_one_probe_goes_through(clock: Clock) -> None:
    b = opened(clock)
    clock.advance(COOLDOWN)
    assert state_of(b) is BreakerState.half_open
    b.before_call()  # the probe
    with pytest.raises(CircuitOpen) as second:
        b.before_call()  # a concurrent call while the probe is out
    assert 0 < second.value.retry_after <= COOLDOWN
    assert state_of(b) is BreakerState.half_open


def test_a_successful_probe_closes_the_breaker(clock: Clock) -> None:
    b = opened(clock)
    clock.advance(COOLDOWN)
    b.before_call()
    b.record_success()
    assert state_of(b) is BreakerState.closed
    for _ in range(5):
        b.before_call()  # every call goes through again


def test_a_closed_breaker_after_a_probe_needs_a_full_run_to_open_again(clock: Clock) -> None:
    b = opened(clock)
    clock.advance(COOLDOWN)
    b.before_call()
    b.record_success()
    fail(b, 2)
    assert state_of(b) is BreakerState.closed
    fail(b, 1)
    assert state_of(b) is BreakerState.open


def test_a_failed_probe_reopens_the_breaker_for_a_full_cool_down(clock: Clock) -> None:
    b = opened(clock)
    clock.advance(COOLDOWN + 5)
    b.before_call()
    b.record_failure()
    assert state_of(b) is BreakerState.open
    with pytest.raises(CircuitOpen) as caught:
        b.before_call()
    assert caught.value.retry_after == pytest.approx(COOLDOWN)


def test_abandoning_the_probe_frees_its_slot(clock: Clock) -> None:
    b = opened(clock)
    clock.advance(COOLDOWN)
    b.before_call()
    b.abandon()  # the probe was cancelled: neither answer nor failure
    assert state_of(b) is BreakerState.half_open
    b.before_call()  # the next probe is let through
    with pytest.raises(CircuitOpen):
        b.before_call()


# -- visible in the logs -------------------------------------------------------------


def test_every_state_change_is_logged(clock: Clock) -> None:
    with capture_logs() as logs:
        b = breaker(clock)
        fail(b, 3)
        clock.advance(COOLDOWN)
        b.before_call()
        b.record_failure()
        clock.advance(COOLDOWN)
        b.before_call()
        b.record_success()
    assert state_events(logs) == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    opening = next(e for e in logs if e["event"] == "breaker_state")
    assert opening["log_level"] == "warning"
    assert opening["consecutive_failures"] == 3
    assert opening["cooldown_seconds"] == COOLDOWN


def test_calls_that_change_nothing_log_nothing(clock: Clock) -> None:
    with capture_logs() as logs:
        b = breaker(clock)
        fail(b, 2)
        b.before_call()
        b.record_success()
    assert state_events(logs) == []


# -- in the adapter ------------------------------------------------------------------


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mocked:
        yield mocked


def adapter_session(clock: Clock, *, attempts: int = 1) -> tuple[TelemetryTV, TelemetryTVSession]:
    tv = TelemetryTV(
        httpx.AsyncHTTPTransport(),
        base_url=BASE,
        attempts=RetryingAttempts(attempts=attempts, initial_backoff=0.001, max_backoff=0.01),
        breaker=breaker(clock),
    )
    return tv, tv.session(TOKEN)


@pytest.mark.anyio
async def test_once_open_the_adapter_makes_no_upstream_call(
    router: respx.MockRouter, clock: Clock
) -> None:
    route = router.get(f"/users/{USER_ID}").mock(side_effect=httpx.ConnectError)
    tv, session = adapter_session(clock)
    for _ in range(3):
        with pytest.raises(ConnectionFailed):
            await session.get_user(USER_ID)
    assert route.call_count == 3
    for _ in range(5):
        with pytest.raises(CircuitOpen):
            await session.get_user(USER_ID)
    assert route.call_count == 3
    await tv.aclose()


@pytest.mark.anyio
async def test_retries_stop_when_the_breaker_opens(router: respx.MockRouter, clock: Clock) -> None:
    route = router.get(f"/users/{USER_ID}").mock(side_effect=httpx.ConnectError)
    tv, session = adapter_session(clock, attempts=10)
    with pytest.raises(CircuitOpen):
        await session.get_user(USER_ID)
    assert route.call_count == 3
    await tv.aclose()


@pytest.mark.anyio
async def test_after_the_cool_down_the_adapter_sends_one_probe(
    router: respx.MockRouter, clock: Clock
) -> None:
    route = router.get(f"/users/{USER_ID}").mock(
        side_effect=[httpx.ConnectError] * 4 + [httpx.Response(200, json=USER)]
    )
    tv, session = adapter_session(clock)
    for _ in range(3):
        with pytest.raises(ConnectionFailed):
            await session.get_user(USER_ID)
    clock.advance(COOLDOWN)
    with pytest.raises(ConnectionFailed):
        await session.get_user(USER_ID)  # the probe fails: open again
    with pytest.raises(CircuitOpen):
        await session.get_user(USER_ID)
    assert route.call_count == 4
    clock.advance(COOLDOWN)
    assert (await session.get_user(USER_ID)).id == USER_ID  # the probe succeeds
    assert state_of(tv.breaker) is BreakerState.closed
    assert route.call_count == 5
    await tv.aclose()


@pytest.mark.anyio
async def test_answers_telemetrytv_chose_do_not_open_the_breaker(
    router: respx.MockRouter, clock: Clock
) -> None:
    route = router.get(f"/users/{USER_ID}").respond(404, json={"error": "Not found"})
    tv, session = adapter_session(clock)
    for _ in range(6):
        with pytest.raises(NotFound):
            await session.get_user(USER_ID)
    assert route.call_count == 6
    assert state_of(tv.breaker) is BreakerState.closed
    await tv.aclose()
