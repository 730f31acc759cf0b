"""The ASGI application: routes, the front door serving them, the upstream adapter."""

from __future__ import annotations

import atexit
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from ..ops.config import Settings
from ..telemetrytv.breaker import CircuitBreaker
from ..telemetrytv.client import AttemptPolicy, TelemetryTV
from ..telemetrytv.retries import RetryingAttempts
from ..telemetrytv.transport import build_http_client
from ..translation.coordination import Coordinator
from .dispatch import RouteTable
from .front_door import FrontDoor
from .routes import discovery, groups, health, roles, unsupported, users
from .state import SCIM_PREFIX, ProxyState


def build_upstream(
    settings: Settings,
    http_client: httpx.AsyncClient | None = None,
    attempts: AttemptPolicy | None = None,
) -> TelemetryTV:
    """The TelemetryTV adapter for these settings (``http_client`` replaces the pool in tests)."""
    upstream = settings.upstream
    client = http_client or build_http_client(
        transport=upstream.transport,
        pool_size=upstream.pool_size,
        connect_timeout=upstream.connect_timeout,
        read_timeout=upstream.read_timeout,
        verify_tls=not upstream.insecure_skip_tls_verify,
    )
    return TelemetryTV(
        client,
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
        read_timeout=upstream.read_timeout,
    )


def create_app(
    settings: Settings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The scim-proxy ASGI app.

    ``http_client`` lets tests send upstream calls somewhere else (the simulator
    in-process, a respx mock) while every other part stays as in production; ``clock``
    is what failed-authentication throttling measures its windows with.
    """
    settings = settings or Settings()
    state = ProxyState(
        settings=settings,
        upstream=build_upstream(settings, http_client),
        coordinator=Coordinator(settings),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.upstream.aclose()
        await state.coordinator.aclose()

    scim_routes = [
        Route(f"{SCIM_PREFIX}{route.path}", route.endpoint, methods=route.methods)
        for route in (*users.routes, *groups.routes, *unsupported.routes, *discovery.routes)
    ]
    if settings.roles.enabled:
        scim_routes += [
            Route(f"{SCIM_PREFIX}{route.path}", route.endpoint, methods=route.methods)
            for route in roles.routes
        ]
    routes = [*scim_routes, *health.routes]
    app = Starlette(routes=routes, lifespan=lifespan)
    # Every HTTP request is served by the front door, in one frame, rather than through
    # Starlette's middleware stack and router (which serve the lifespan only); the routes
    # stay registered on the app all the same (``app.routes``).
    app.middleware_stack = FrontDoor(
        routes=RouteTable(routes),
        fallback=app.build_middleware_stack(),
        settings=settings,
        clock=clock,
    )
    app.state.proxy = state
    return app


def create_app_from_environment() -> Starlette:
    """The app for a uvicorn worker: settings from ``$SCIM_PROXY_CONFIG`` and the environment."""
    from ..ops.config import load_settings
    from ..ops.logging import configure_logging
    from ..ops.metrics import forget_this_worker

    settings = load_settings()
    configure_logging(settings.logging)
    atexit.register(forget_this_worker)
    from ..serving import freeze_startup_objects

    app = create_app(settings)
    # As the one-process serve does: what start-up built is kept out of the collector's
    # full passes, and its garbage collected first.
    freeze_startup_objects()
    return app
