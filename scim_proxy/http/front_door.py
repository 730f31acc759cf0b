"""The one ASGI callable every HTTP request passes through before its endpoint.

In one frame, what a stack of middleware did before (each with its own coroutine and send
wrapper): the forwarded client address (trusted proxies only), the path made canonical,
the request id and bookkeeping, the auth guard, routing by lookup (``dispatch.py``), the
endpoint, SCIM and router errors as SCIM Error JSON, the 500 boundary, the metrics and the
one ``request`` log event. Anything but an HTTP request (the lifespan) goes to the
Starlette app's own stack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..ops.config import Settings
from ..ops.context import start_request_stats
from ..ops.metrics import IN_FLIGHT, QUIRKS, SCIM_LATENCY, SCIM_REQUESTS, child
from ..ops.redaction import logged_detail
from ..scim.errors import ScimError
from .dispatch import RouteTable
from .errors import http_error_handler, internal_error, render_scim_error
from .forwarded import ForwardedHeaders
from .middleware.auth_guard import UNGUARDED, Admission, AuthGuard
from .middleware.resource_names import canonicalise_resource_name
from .request_facts import idp, normalise_path, request_id, route_template
from .throttle import FailureThrottle

log = structlog.get_logger("scim_proxy.request")

_SCIM_HEADERS = (b"content-type", b"application/scim+json")
_SENT_WHOLE = Response.__call__
"""How Starlette sends a response held whole in memory (every response of the proxy)."""


class FrontDoor:
    """Serves each HTTP request of the app: context, guard, routing, endpoint, outcome."""

    def __init__(
        self,
        *,
        routes: RouteTable,
        fallback: ASGIApp,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = routes
        self.fallback = fallback
        """The Starlette app's own stack, for the lifespan (and any non-HTTP scope)."""
        self.guard = AuthGuard(
            settings=settings.auth, fingerprint_key=settings.logging.fingerprint_key, clock=clock
        )
        trusted = list(settings.auth.trusted_proxies)
        self.forwarded = ForwardedHeaders(trusted) if trusted else None
        self.budget = settings.server.request_budget_seconds
        self.include_values = settings.logging.include_values

    @property
    def throttle(self) -> FailureThrottle | None:
        """The guard's failed-authentication throttle (None when off), for inspection."""
        return self.guard.throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        started = time.perf_counter()
        if self.forwarded is not None:
            self.forwarded.apply(scope)
        normalise_path(scope)
        canonicalise_resource_name(scope)
        rid = request_id(scope)
        # Other events of the request get its id from ``stats`` (ops/logging.py's
        # add_request_id), not from structlog's contextvars: binding them costs more.
        stats = start_request_stats(self.budget)
        stats.request_id = rid
        status = 500
        answered = 0  # what the guard is told: 0 unless the response was sent in full
        response_started = False
        id_header = (b"x-request-id", rid.encode("latin-1"))
        guard = self.guard
        admitted: Admission | None = None  # let through by the guard: settled once answered
        IN_FLIGHT.inc()
        try:
            response: Response | None = None
            if scope["path"] not in UNGUARDED:
                admission = guard.admit(scope)
                if admission.waiting:
                    await guard.wait_turn(admission)
                if admission.refusal is not None:
                    response = render_scim_error(admission.refusal)
                else:
                    admitted = admission
            if response is None:
                request = Request(scope, receive, send)
                try:
                    response = await self.routes.resolve(scope)(request)
                except ScimError as exc:
                    response = render_scim_error(exc)
                    exc.__traceback__ = None  # a reused instance would pile them up
                except HTTPException as exc:
                    response = await http_error_handler(request, exc)
                    exc.__traceback__ = None
            status = response.status_code
            # Every response is built for its request, so its header list is ours to extend.
            response.raw_headers.append(id_header)
            response_started = True
            if type(response).__call__ is _SENT_WHOLE and response.background is None:
                # What Response.__call__ does for a plain HTTP response, minus its frame.
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": response.raw_headers,
                    }
                )
                await send({"type": "http.response.body", "body": response.body})
            else:
                await response(scope, receive, send)
            # Only now: a 401 the client never got counts against no one (as before).
            answered = status
        except Exception:
            log.exception("unhandled_error", method=scope["method"])
            if not response_started:
                error = internal_error()
                status = error.status
                stats.error_detail, stats.error_reason = error.detail, error.reason
                body = orjson.dumps(error.body())
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [
                            _SCIM_HEADERS,
                            (b"content-length", str(len(body)).encode()),
                            id_header,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            if admitted is not None:
                guard.settle(admitted, scope, answered)
            IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            resource, operation = stats.resource or "none", stats.operation or "none"
            child(SCIM_REQUESTS, resource, operation, str(status)).inc()
            child(SCIM_LATENCY, resource, operation).observe(elapsed)
            for quirk in stats.quirks:
                child(QUIRKS, quirk).inc()
            level = (
                logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
            )
            extra = {"filter": stats.filter_text} if self.include_values else {}
            if status >= 400:
                # What the client was told, so a refusal is explained in the logs too.
                extra["detail"] = logged_detail(stats, self.include_values)
                extra["reason"] = stats.error_reason
            log.log(
                level,
                "request",
                request_id=rid,
                method=scope["method"],
                route=route_template(scope),
                resource=stats.resource,
                operation=stats.operation,
                status=status,
                scim_type=stats.scim_type,
                duration_ms=round(elapsed * 1000, 2),
                upstream_calls=stats.upstream_calls,
                upstream_retries=stats.upstream_retries,
                upstream_ms=round(stats.upstream_ms, 2),
                token_fingerprint=stats.token_fingerprint,
                idp=idp(scope),
                quirks=stats.quirks,
                **extra,
            )
