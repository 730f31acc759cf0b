"""``/healthz``, ``/readyz`` and ``/metrics``: outside ``/scim/v2``, no TelemetryTV token."""

from __future__ import annotations

import asyncio
import hmac
import ssl
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ...ops.context import request_stats
from ...ops.metrics import render
from ...ops.reasons import Reason
from ...scim.errors import ScimError
from ...telemetrytv.failures import FailureKind, failure_kind
from ..responses import json_response
from ..routing import Route
from ..state import proxy_state

READY_CACHE_SECONDS = 5.0
"""How long a reachability result is reused: probes come every few seconds."""

_cache: dict[str, tuple[float, bool, str, Reason | None]] = {}


async def healthz(request: Request) -> Response:
    """Alive: touches nothing upstream."""
    return json_response({"status": "ok"})


async def _reachable(base_url: str, verify: bool) -> tuple[bool, str, Reason | None]:
    """Whether TelemetryTV's host resolves and accepts a connection (and a TLS handshake):
    the check's text, and when it failed the ``reason`` code its request event logs."""
    cached = _cache.get(base_url)
    if cached and time.monotonic() - cached[0] < READY_CACHE_SECONDS:
        return cached[1], cached[2], cached[3]
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    context: ssl.SSLContext | None = None
    if tls:
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    result: tuple[bool, str, Reason | None]
    try:
        async with asyncio.timeout(3):
            _, writer = await asyncio.open_connection(host, port, ssl=context)
            writer.close()
            await writer.wait_closed()
        result = (True, "reachable" + (" (TLS handshake done)" if tls else ""), None)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        # Named as an operator names it (connection refused, DNS or TLS failure, timeout).
        kind = failure_kind(exc)
        reason: Reason = (
            "telemetrytv_timeout" if kind is FailureKind.timeout else "telemetrytv_unreachable"
        )
        result = (False, f"cannot reach {host}:{port} ({kind.value})", reason)
    _cache[base_url] = (time.monotonic(), *result)
    return result


async def readyz(request: Request) -> Response:
    """Ready: configuration loaded, TelemetryTV reachable; the breaker's and the membership
    coordination's state (a Redis outage degrades coordination but does not fail this)."""
    state = proxy_state(request)
    upstream = state.settings.upstream
    ok, detail, reason = await _reachable(upstream.base_url, not upstream.insecure_skip_tls_verify)
    if not ok:
        # Not a SCIM error, but logged like one: the request event says why it failed.
        stats = request_stats()
        stats.error_detail, stats.error_reason = detail, reason
    body = {
        "status": "ready" if ok else "not ready",
        "checks": {
            "configuration": "valid",
            "telemetrytv": detail,
            "breaker": state.upstream.breaker.state.value,
            # Degraded coordination is reported, never fatal: changes fall back to verify.
            "coordination": await state.coordinator.status(),
        },
    }
    return json_response(body, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    """Prometheus metrics (all workers), behind a scrape token when one is configured."""
    settings = proxy_state(request).settings.metrics
    if not settings.enabled:
        raise ScimError(
            404, "Metrics are disabled (metrics.enabled = false)", reason="metrics_disabled"
        )
    if settings.token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {settings.token}".encode()):
            raise ScimError(
                401,
                "/metrics wants the scrape token: Authorization: Bearer <metrics.token>",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                reason="metrics_token_refused",
            )
    content, media_type = render()
    return Response(content, media_type=media_type)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
