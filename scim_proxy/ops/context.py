"""Per-request bookkeeping shared across layers without passing it through every call.

The HTTP layer opens a :class:`RequestStats` for each inbound request; the TelemetryTV
adapter adds to it. Context variables keep concurrent requests apart.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spans import Tracing


@dataclass(slots=True)
class RequestStats:
    """What one inbound request cost upstream, and what it needed."""

    request_id: str | None = None
    upstream_calls: int = 0
    upstream_retries: int = 0
    upstream_ms: float = 0.0
    """Time spent in upstream attempts, all of them, in milliseconds."""
    quirks: list[str] = field(default_factory=list)
    resource: str | None = None
    """The SCIM resource type the request addressed (``User``, ``Group``...)."""
    operation: str | None = None
    """The SCIM operation (``get``, ``list``, ``create``, ``replace``, ``patch``...)."""
    scim_type: str | None = None
    """The ``scimType`` of the error answered, if any."""
    deadline: float | None = None
    """``time.monotonic()`` by which the request must be answered, if it has a budget."""
    token_fingerprint: str | None = None
    """A keyed hash of the request's API token (never the token)."""
    auth_scheme: str | None = None
    """How the token came: ``bearer``, ``token`` or ``basic`` (None: no usable header)."""
    token_source: str | None = None
    """Which part of the header held the token, in words (``the Basic password``)."""
    filter_text: str | None = None
    """The list request's filter, logged only when values are allowed in logs."""
    error_detail: str | None = None
    """The ``detail`` of the SCIM error answered, if any."""
    error_log_detail: str | None = None
    """That detail without personal values, when it holds some."""
    error_reason: str | None = None
    """A short code telling errors of one status apart (``no_authorization_header``...)."""
    tracing: Tracing | None = None
    """The process's tracer while this request is traced (``ops/tracing.py``), else None:
    the one check a place that makes spans looks at."""

    def remaining(self) -> float | None:
        """Seconds left before the deadline (``None`` without one)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def note_quirk(self, name: str) -> None:
        """Record that the request needed an IdP quirk (kept once, in order)."""
        if name not in self.quirks:
            self.quirks.append(name)


_current: ContextVar[RequestStats | None] = ContextVar("scim_proxy_request_stats", default=None)


def start_request_stats(budget: float | None = None) -> RequestStats:
    """Open the bookkeeping of the request running in this context (``budget`` seconds)."""
    stats = RequestStats(deadline=None if budget is None else time.monotonic() + budget)
    _current.set(stats)
    return stats


def current_request_id() -> str | None:
    """The id of the request running in this context, if any (for log events)."""
    stats = _current.get()
    return None if stats is None else stats.request_id


def request_stats() -> RequestStats:
    """The bookkeeping of the current request; a throwaway one outside any request."""
    stats = _current.get()
    return stats if stats is not None else RequestStats()


def note_quirk(name: str) -> None:
    """Record on the current request that an IdP quirk was needed."""
    stats = _current.get()
    if stats is not None:
        stats.note_quirk(name)


_next_attempt_wait: ContextVar[tuple[float, bool]] = ContextVar(
    "scim_proxy_next_attempt_wait", default=(0.0, False)
)


def set_next_attempt_wait(seconds: float, retry_after_honoured: bool) -> None:
    """Record the wait before the next upstream attempt of the call running in this task.

    A context variable rather than the request's bookkeeping: concurrent upstream calls
    of one request (a membership push) run in tasks of their own, each with its own wait.
    """
    _next_attempt_wait.set((seconds, retry_after_honoured))


def take_next_attempt_wait() -> tuple[float, bool]:
    """The wait before this attempt (seconds, whether it was ``Retry-After``), then reset."""
    wait = _next_attempt_wait.get()
    _next_attempt_wait.set((0.0, False))
    return wait
