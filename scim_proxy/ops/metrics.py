"""Prometheus metrics (prometheus-client), correct with several uvicorn workers.

With ``serve --workers N`` the CLI points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers start; every worker then writes its samples there, and
``/metrics`` (served by any one worker) aggregates all of them.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

SCIM_REQUESTS = Counter(
    "scim_proxy_requests_total",
    "SCIM requests answered, by resource, operation and status",
    ["resource", "operation", "status"],
)
SCIM_LATENCY = Histogram(
    "scim_proxy_request_duration_seconds",
    "Time to answer a SCIM request, upstream calls included",
    ["resource", "operation"],
    buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "scim_proxy_requests_in_flight",
    "SCIM requests being handled",
    multiprocess_mode="livesum",
)
UPSTREAM_CALLS = Counter(
    "scim_proxy_upstream_calls_total",
    "Upstream attempts, by endpoint template, method and status (0: no answer)",
    ["endpoint", "method", "status"],
)
UPSTREAM_LATENCY = Histogram(
    "scim_proxy_upstream_call_duration_seconds",
    "Time of one upstream attempt",
    ["endpoint", "method"],
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM_RETRIES = Counter(
    "scim_proxy_upstream_retries_total", "Upstream attempts retried, by reason", ["reason"]
)
QUIRKS = Counter("scim_proxy_quirks_total", "IdP quirks a request needed, by name", ["quirk"])
BREAKER_STATE = Gauge(
    "scim_proxy_breaker_state",
    "Circuit breaker: 0 closed, 1 half-open, 2 open (max over workers)",
    multiprocess_mode="max",
)
BREAKER_CODES = {"closed": 0, "half_open": 1, "open": 2}
AUTH_REFUSALS = Counter(
    "scim_proxy_auth_refusals_total",
    "SCIM requests refused for authentication, by reason (missing, malformed, not_allowed, "
    "upstream_rejected, metrics_token, throttled)",
    ["reason"],
)
CONNECTIONS_REFUSED = Counter(
    "scim_proxy_connections_refused_total",
    "Client connections refused before a request reached the app, by reason (busy: over "
    "server.max_connections; large: headers over server.max_header_bytes; slow: headers "
    "not in within server.header_timeout_seconds)",
    ["reason"],
)
AUTH_CLIENTS_FORGOTTEN = Counter(
    "scim_proxy_auth_clients_forgotten_total",
    "Client addresses whose failed authentications were forgotten to stay within "
    "auth.max_tracked_clients",
)


M = TypeVar("M", Counter, Gauge, Histogram)
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: M, *values: str) -> M:
    """``metric.labels(*values)``, looked up once per process and label set.

    ``labels()`` checks and joins its arguments and takes a lock on every call; the
    children it returns are the same objects each time, so the hot path keeps them here.
    Label values are bounded (routes, methods, statuses, quirk names).
    """
    key = (id(metric), values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*values)
    return found


def render() -> tuple[bytes, str]:
    """The exposition text of every metric (of every worker), and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def forget_this_worker() -> None:
    """On a worker's exit, drop its live gauges from the shared directory.

    Without it an exited worker's last in-flight count (``livesum``) would be added to
    the live workers' totals until the directory is cleared.
    """
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


COORDINATION_FALLBACKS = Counter(
    "scim_proxy_coordination_fallbacks_total",
    "Membership changes made in verify mode because Redis coordination could not be used, "
    "by reason (redis_unavailable, lock_lost); one per request",
    ["reason"],
)
