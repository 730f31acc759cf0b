"""How one upstream call is made: attempts, the breaker, the concurrency cap, the budget.

:class:`SessionCalls` is the part of a session that every operation shares: it turns
``(method, path, body)`` into attempts under the adapter's :class:`AttemptPolicy`, keeps
secrets out of upstream error text, and records each exchange in metrics and logs. The
operations themselves (users, user groups) live in ``client.py``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import orjson
import structlog

from ..ops.context import request_stats, take_next_attempt_wait
from ..ops.metrics import UPSTREAM_CALLS, UPSTREAM_LATENCY, child
from .errors import (
    BadResponse,
    CircuitOpen,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .exchange import Answer, build_request, exchange
from .failures import FailureKind, failure_kind
from .transport import provably_unsent
from .wire import decode_json, error_from_response

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ..ops.spans import Tracing
    from .client import TelemetryTV

log = structlog.get_logger("scim_proxy.upstream")


def _scrubbed(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


CLOCK_SKEW = timedelta(minutes=2)
"""How far TelemetryTV's clock may be from ours when judging when a resource was made."""


@dataclass
class CallOutcome:
    """What the attempts of one call went through."""

    maybe_applied: bool = False
    """An earlier attempt failed after the request may have reached TelemetryTV."""
    started_at: float = field(default_factory=time.time)
    """When the call started (seconds since the epoch): a datetime only when asked."""

    @property
    def started(self) -> datetime:
        """When the call started."""
        return datetime.fromtimestamp(self.started_at, UTC)

    def created_since_start(self, created: datetime | None) -> bool:
        """Whether a resource was made by this call's attempts, as far as can be told.

        One made before the call started (allowing for clock skew) was someone else's.
        """
        return created is None or created >= self.started - CLOCK_SKEW


class SessionCalls:
    """The upstream calls of one session, acting with one token."""

    def __init__(self, adapter: TelemetryTV, token: str, authorization: str) -> None:
        self._adapter = adapter
        self._token = token
        self._authorization = authorization
        # The adapter's headers and this session's token, laid out once for its calls.
        self._request_headers = adapter.base_headers.copy()
        self._request_headers["Authorization"] = authorization

    async def _delete(self, template: str, path: str) -> None:
        outcome = CallOutcome()
        try:
            await self._call("DELETE", template, path, outcome=outcome)
        except NotFound:
            # An earlier attempt may have deleted it before its reply was lost.
            if not outcome.maybe_applied:
                raise

    @staticmethod
    def _array(answer: Answer) -> list[Any]:
        data = decode_json(answer.body)
        if not isinstance(data, list):
            raise BadResponse("a listing that is not an array")
        return data

    async def _call(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        retry: bool = True,
        outcome: CallOutcome | None = None,
    ) -> Answer:
        adapter = self._adapter
        content = orjson.dumps(body) if body is not None else None
        outcome = outcome or CallOutcome()
        attempt_number = 0

        async def attempt() -> Answer:
            nonlocal attempt_number
            attempt_number += 1
            stats = request_stats()
            remaining = stats.remaining()
            if remaining is not None and remaining <= 0:
                raise UpstreamTimeout("the request's time budget is used up", request_sent=False)
            try:
                probing = adapter.breaker.before_call()
            except CircuitOpen as refusal:
                if stats.tracing is not None:
                    _trace_refusal(stats.tracing, adapter, refusal, method, template)
                raise
            stats.upstream_calls += 1
            if attempt_number > 1:
                stats.upstream_retries += 1
            try:
                answer = await self._exchange(
                    method,
                    path,
                    template,
                    params,
                    content,
                    remaining,
                    attempt_number,
                    stats.tracing,
                )
            except UpstreamUnavailable as exc:
                adapter.breaker.record_failure()
                outcome.maybe_applied |= exc.request_sent
                raise
            except BaseException:
                if probing:
                    adapter.breaker.abandon()
                raise
            status = answer.status
            if status >= 500:
                adapter.breaker.record_failure()
                outcome.maybe_applied = True
            else:
                adapter.breaker.record_success()
            if not 200 <= status < 300:
                error = error_from_response(status, answer.headers, answer.body)
                # Upstream text is passed on to admins; never let it carry a secret.
                secrets = self._secrets(body)
                for secret in secrets:
                    error.message = error.message.replace(secret, "[redacted]")
                if isinstance(error, InvalidRequest):
                    error.fields = {
                        name: _scrubbed(text, secrets) for name, text in error.fields.items()
                    }
                raise error
            return answer

        if not retry:
            return await attempt()
        return await adapter.attempts.run(attempt, idempotent=idempotent)

    def _secrets(self, body: Mapping[str, Any] | None) -> list[str]:
        """What upstream error text must never pass on: the token, and any password sent."""
        authorization = self._authorization
        secrets = [s for s in (authorization, authorization.partition(" ")[2], self._token) if s]
        if body is not None and isinstance(body.get("password"), str) and body["password"]:
            secrets.append(body["password"])
        return secrets

    async def _acquire_slot(self, remaining: float | None) -> None:
        """Wait for a slot under the process's cap on upstream calls, within the budget."""
        gate = self._adapter.gate
        if remaining is None or not gate.locked():
            # A free slot is taken without waiting: no timeout to arm.
            await gate.acquire()
            return
        try:
            async with asyncio.timeout(remaining):
                await gate.acquire()
        except TimeoutError:
            raise UpstreamTimeout(
                "no upstream slot came free within the request's time budget",
                request_sent=False,
            ) from None

    async def _exchange(
        self,
        method: str,
        path: str,
        template: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        remaining: float | None,
        attempt_number: int,
        tracing: Tracing | None,
    ) -> Answer:
        """One HTTP exchange, as an upstream error when no answer came back (and, when the
        request is traced, a CLIENT span whose ``traceparent`` the request carries)."""
        adapter = self._adapter
        started = time.perf_counter()
        status: int | None = None
        span = None
        headers = self._request_headers
        if tracing is not None:
            span = _attempt_span(tracing, adapter, method, template, path, params, attempt_number)
            headers = headers.copy()
            tracing.inject(headers, span)
        try:
            await self._acquire_slot(remaining)
            try:
                # Within the request's budget: a shorter timeout when less time is left.
                remaining = request_stats().remaining()
                timeout = (
                    httpx.Timeout(max(remaining, 0.001)).as_dict()
                    if remaining is not None and remaining < adapter.read_timeout
                    else adapter.default_timeout
                )
                url = adapter.base_url + path
                if params:
                    url += "?" + urlencode(params)
                try:
                    request = build_request(method, url, headers, content, timeout)
                except httpx.InvalidURL:
                    # Only a value from the client can make the URL invalid: a lookup by
                    # an email or a name past httpx's URL length limit. Nothing was sent.
                    raise InvalidRequest(
                        "a value in this request is too long for a lookup URL (more than "
                        "65,536 characters)",
                        status=None,
                    ) from None
                answer = await exchange(adapter.transport, request)
            finally:
                adapter.gate.release()
            status = answer.status
            return answer
        except httpx.HTTPError as exc:
            # The aiohttp transport calls a refused connection a ConnectTimeout: the cause
            # chain names what it was.
            kind = failure_kind(exc)
            if kind is FailureKind.timeout:
                raise UpstreamTimeout(
                    f"TelemetryTV did not answer in time ({method})",
                    request_sent=not provably_unsent(exc),
                ) from exc
            raise ConnectionFailed(
                kind.value,  # "connection refused": the SCIM detail and the check say the rest
                request_sent=not provably_unsent(exc),
            ) from exc
        finally:
            elapsed = time.perf_counter() - started
            child(UPSTREAM_CALLS, template, method, str(status or 0)).inc()
            child(UPSTREAM_LATENCY, template, method).observe(elapsed)
            stats = request_stats()
            stats.upstream_ms += elapsed * 1000
            # A first attempt answered 2xx is summed up in the request's own event
            # (upstream_calls, upstream_ms); failed and retried attempts keep theirs.
            wait, honoured = 0.0, False
            if attempt_number > 1 or status is None or not 200 <= status < 300:
                wait, honoured = take_next_attempt_wait()
                log.info(
                    "upstream_call",
                    request_id=stats.request_id,
                    method=method,
                    path=template,
                    status=status,
                    attempt=attempt_number,
                    duration_ms=round(elapsed * 1000, 2),
                    wait_before_ms=round(wait * 1000, 1),
                    retry_after_honoured=honoured,
                )
            if tracing is not None and span is not None:
                _end_attempt_span(tracing, span, status, wait, honoured)


def _attempt_span(
    tracing: Tracing,
    adapter: TelemetryTV,
    method: str,
    template: str,
    path: str,
    params: Mapping[str, Any] | None,
    attempt_number: int,
) -> Span:
    """The CLIENT span of one upstream attempt, named ``METHOD template``."""
    # The path holds only ids (the adapter refuses any other character in one); a query
    # may hold an email or a group name, a personal value.
    url = adapter.base_url + path
    if params and tracing.include_values:
        url += "?" + urlencode(params)
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.template": template,
        "url.full": url,
        "server.address": adapter.server_address,
        "server.port": adapter.server_port,
        "scim_proxy.attempt": attempt_number,
    }
    if attempt_number > 1:
        attributes["http.request.resend_count"] = attempt_number - 1
    return tracing.start_client(f"{method} {template}", attributes)


def _end_attempt_span(
    tracing: Tracing, span: Span, status: int | None, wait: float, honoured: bool
) -> None:
    """End an attempt's span: its answer, or the failure that left it without one."""
    attributes: dict[str, float | bool | int] = {
        "scim_proxy.wait_before_ms": round(wait * 1000, 1),
        "scim_proxy.retry_after_honoured": honoured,
    }
    if status is not None:
        attributes["http.response.status_code"] = status
    span.set_attributes(attributes)
    if status is not None:
        if status >= 400:
            tracing.failed(span, str(status))
    else:
        # No answer: the exception on its way out of the attempt (its type only; its text
        # may quote TelemetryTV or a value).
        failure = sys.exc_info()[1]
        tracing.failed(span, type(failure).__name__ if failure is not None else "unknown")
    span.end()


def _trace_refusal(
    tracing: Tracing, adapter: TelemetryTV, refusal: CircuitOpen, method: str, template: str
) -> None:
    """A span for a call the open circuit breaker refused: no attempt was made."""
    span = tracing.start(
        "upstream.breaker.refused",
        {
            "http.request.method": method,
            "url.template": template,
            "scim_proxy.breaker.state": adapter.breaker.state.value,
            "scim_proxy.retry_in_seconds": round(refusal.retry_after, 3),
        },
    )
    tracing.failed(span, "CircuitOpen")
    span.end()
