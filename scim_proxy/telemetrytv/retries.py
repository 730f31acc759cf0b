"""Retrying upstream calls (tenacity): which failures, how long to wait, when to stop.

A call is retried when the failure is transient (429, 502, 503, 504, a timeout, a
connection error) and sending the request again cannot do harm: always for idempotent
calls, and for others only when the request provably never reached TelemetryTV. Waits
grow exponentially with jitter, and a ``Retry-After`` from TelemetryTV is honoured.
Retries never run past the inbound request's deadline: when the next wait would not fit,
the last error is raised as it is, so a long ``Retry-After`` reaches the client as a 429
telling it when to come back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ..ops.context import request_stats, set_next_attempt_wait
from ..ops.metrics import UPSTREAM_RETRIES
from .errors import (
    CircuitOpen,
    ConnectionFailed,
    RateLimited,
    ServerError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

T = TypeVar("T")
log = structlog.get_logger("scim_proxy.upstream")

RETRYABLE_STATUSES = frozenset({502, 503, 504})
DEADLINE_MARGIN = 0.25
"""Seconds kept free before the deadline for the attempt itself and the answer."""


def is_transient(exc: BaseException) -> bool:
    """A failure that may not happen again."""
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, RateLimited | UpstreamTimeout | ConnectionFailed):
        return True
    return isinstance(exc, ServerError) and exc.status in RETRYABLE_STATUSES


def may_repeat(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether the failed call may be sent again."""
    if not is_transient(exc):
        return False
    if idempotent or isinstance(exc, RateLimited):
        return True  # a 429 was refused before being carried out
    return isinstance(exc, UpstreamUnavailable) and not exc.request_sent


class wait_retry_after(wait_base):
    """TelemetryTV's ``Retry-After`` when it sent one, else the fallback wait."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to wait before the next attempt."""
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return self.fallback(retry_state)


class stop_before_deadline(stop_base):
    """Stop when waiting and trying again would end after the request's deadline."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        """Whether to give up now."""
        deadline = request_stats().deadline
        if deadline is None:
            return False
        return time.monotonic() + retry_state.upcoming_sleep + DEADLINE_MARGIN >= deadline


Sleep = Callable[[float], Awaitable[None]]
"""How a wait between attempts is waited out (``asyncio.sleep``; a fake in tests)."""


async def _asyncio_sleep(seconds: float) -> None:
    # Looked up on each wait, not bound once: a test that patches asyncio.sleep still
    # sees every wait.
    await asyncio.sleep(seconds)


class RetryingAttempts:
    """The :class:`~scim_proxy.telemetrytv.client.AttemptPolicy` used in production.

    The wait after the n-th failed attempt is ``initial_backoff * 2 ** (n - 1)`` plus up to
    ``initial_backoff`` of jitter, at most ``max_backoff`` (a 429's ``Retry-After`` when it
    has one): with 0.2 s, 0.2-0.4 s, then 0.4-0.6 s, then 0.8-1.0 s.
    """

    def __init__(
        self,
        *,
        attempts: int = 4,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
        sleep: Sleep = _asyncio_sleep,
    ) -> None:
        self.attempts = attempts
        self.sleep = sleep
        self.wait = wait_retry_after(
            wait_exponential_jitter(
                multiplier=initial_backoff, max=max_backoff, jitter=initial_backoff
            )
        )

    async def run(self, attempt: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``attempt``, retrying what may be retried, within the request's deadline.

        The first attempt runs on its own: nearly every call succeeds at once, and
        setting up a tenacity loop costs more than the rest of an upstream exchange
        (about 24 µs, docs/performance.md). Only a failure worth retrying starts the
        loop, which takes that failure as its own first attempt's: its count, waits and
        deadline rule are the same as if it had made every attempt itself.
        """
        try:
            return await attempt()
        except Exception as exc:
            if self.attempts < 2 or not may_repeat(exc, idempotent=idempotent):
                raise
            first_failure = exc
        replayed = False

        async def again() -> T:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first_failure
            return await attempt()

        retrying = AsyncRetrying(
            sleep=self.sleep,
            stop=stop_after_attempt(self.attempts) | stop_before_deadline(),
            wait=self.wait,
            retry=retry_if_exception(lambda exc: may_repeat(exc, idempotent=idempotent)),
            before_sleep=_note_retry,
            reraise=True,
        )
        result: T = await retrying(again)
        return result


def _note_retry(retry_state: RetryCallState) -> None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    _record_retry(exc, attempt_number=retry_state.attempt_number, wait=retry_state.upcoming_sleep)


def _record_retry(exc: BaseException | None, *, attempt_number: int, wait: float) -> None:
    honoured = isinstance(exc, RateLimited) and exc.retry_after is not None
    set_next_attempt_wait(wait, honoured)
    UPSTREAM_RETRIES.labels(type(exc).__name__ if exc is not None else "unknown").inc()
    log.info(
        "upstream_retry",
        attempt=attempt_number,
        reason=type(exc).__name__ if exc is not None else None,
        status=getattr(exc, "status", None),
        wait_seconds=round(wait, 3),
        retry_after_honoured=honoured,
    )
