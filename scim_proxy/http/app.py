"""The ASGI application: its routes, the pipeline serving them, the upstream adapter."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from ..ops.config import Settings
from ..telemetrytv.breaker import CircuitBreaker
from ..telemetrytv.client import AttemptPolicy, TelemetryTV
from ..telemetrytv.retries import RetryingAttempts
from ..telemetrytv.transport import build_transport
from ..translation.memberships import Coordinator
from .pipeline import ProxyApp
from .routes import discovery, groups, health, roles, unsupported, users
from .routing import RouteTable
from .state import SCIM_PREFIX, ProxyState

if TYPE_CHECKING:
    from ..ops.spans import Tracing


def build_upstream(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    attempts: AttemptPolicy | None = None,
) -> TelemetryTV:
    """The TelemetryTV adapter for these settings (``transport`` replaces the pool in tests)."""
    upstream = settings.upstream
    transport = transport or build_transport(
        transport=upstream.transport,
        pool_size=upstream.pool_size,
        verify_tls=not upstream.insecure_skip_tls_verify,
    )
    return TelemetryTV(
        transport,
        base_url=upstream.base_url,
        auth_scheme=upstream.auth_scheme,
        attempts=attempts
        or RetryingAttempts(
            attempts=upstream.retry_attempts,
            initial_backoff=upstream.retry_initial_backoff_seconds,
            max_backoff=upstream.retry_max_backoff_seconds,
        ),
        breaker=CircuitBreaker(
            failures=upstream.breaker_failures, cooldown=upstream.breaker_cooldown_seconds
        ),
        max_concurrent_calls=upstream.max_concurrent_calls,
        connect_timeout=upstream.connect_timeout,
        read_timeout=upstream.read_timeout,
    )


def create_app(
    settings: Settings | None = None,
    *,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    tracing: Tracing | None = None,
) -> ProxyApp:
    """The scim-proxy ASGI app.

    ``upstream_transport`` lets tests send upstream calls somewhere else (the simulator
    in-process, a respx mock) while every other part stays as in production; ``clock``
    is what failed-authentication throttling measures its windows with; ``tracing``, the
    process's tracer (``ops.tracing.start_tracing``), which the app flushes and closes at
    shutdown; ``None``: no traces.
    """
    settings = settings or Settings()
    proxy = ProxyState(
        settings=settings,
        upstream=build_upstream(settings, upstream_transport),
        coordinator=Coordinator(settings),
        tracing=tracing,
    )
    scim = [*users.routes, *groups.routes, *unsupported.routes, *discovery.routes]
    if settings.roles.enabled:
        scim += roles.routes
    routes = RouteTable([*(route.under(SCIM_PREFIX) for route in scim), *health.routes])
    return ProxyApp(proxy=proxy, routes=routes, clock=clock)
