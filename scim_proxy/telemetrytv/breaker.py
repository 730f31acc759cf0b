"""A circuit breaker for upstream calls, one per process.

After ``failures`` consecutive calls that got no usable answer (5xx, timeouts, connection
errors), the breaker opens: every call fails at once with :class:`CircuitOpen` for
``cooldown`` seconds, so clients get a 503 immediately instead of waiting on a dead
TelemetryTV. Then it lets one probe through (half-open): success closes it, failure opens
it again. Answers that are TelemetryTV's decision (4xx, 429) are not failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

import structlog

from ..ops.metrics import BREAKER_CODES, BREAKER_STATE
from .errors import CircuitOpen

log = structlog.get_logger("scim_proxy.breaker")


class BreakerState(StrEnum):
    """Where the breaker stands."""

    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    """Counts consecutive upstream failures and opens for a cool-down."""

    def __init__(
        self,
        *,
        failures: int = 5,
        cooldown: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._state = BreakerState.closed
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cool-down is over reads half-open)."""
        if self._state is BreakerState.open and self._remaining() <= 0:
            return BreakerState.half_open
        return self._state

    def _remaining(self) -> float:
        return self._opened_at + self.cooldown - self._clock()

    def before_call(self) -> bool:
        """Raise :class:`CircuitOpen` unless a call may go through now; True for the probe."""
        if self._state is BreakerState.closed:
            return False
        if self._state is BreakerState.open:
            remaining = self._remaining()
            if remaining > 0:
                raise CircuitOpen(remaining)
            self._transition(BreakerState.half_open)
        if self._probing:
            # One probe at a time while half-open; the others wait out a short while.
            raise CircuitOpen(min(1.0, self.cooldown))
        self._probing = True
        return True

    def record_success(self) -> None:
        """A call got a usable answer."""
        self._consecutive = 0
        self._probing = False
        if self._state is not BreakerState.closed:
            self._transition(BreakerState.closed)

    def abandon(self) -> None:
        """The probe ended with neither answer nor failure (cancelled): free its slot."""
        self._probing = False

    def record_failure(self) -> None:
        """A call got no usable answer."""
        self._probing = False
        self._consecutive += 1
        if self._state is BreakerState.half_open or (
            self._state is BreakerState.closed and self._consecutive >= self.failures
        ):
            self._opened_at = self._clock()
            self._transition(BreakerState.open)

    def _transition(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        BREAKER_STATE.set(BREAKER_CODES[state.value])
        log.warning(
            "breaker_state",
            state=state.value,
            previous=previous.value,
            consecutive_failures=self._consecutive,
            cooldown_seconds=self.cooldown if state is BreakerState.open else None,
        )
