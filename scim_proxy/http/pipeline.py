"""The ASGI app: its lifespan, and the steps every HTTP request goes through, in order.

:meth:`ProxyApp.serve` is the whole request pipeline, read top to bottom:

1. the client address: uvicorn's ``ProxyHeadersMiddleware`` (wrapped around ``serve``,
   fed ``auth.trusted_proxies``) takes ``X-Forwarded-For``/``-Proto`` from trusted peers;
   a forwarded address that is not an IP address is replaced by the peer's own;
2. the path made clean and canonical (``//`` and a trailing ``/`` go; ``/users`` is
   ``/Users``), the request id, the request's bookkeeping opened (and, when traces are
   exported, its SERVER span: ``request_tracing.py``);
3. on every path but health and metrics, the auth guard (allowlist, failed-auth
   throttling), before routing;
4. routing (``routing.py``): the route's resource and operation noted for the log (also
   for a request the guard refused), then the endpoint with a Starlette ``Request``; a
   ``ScimError`` becomes SCIM Error JSON, no route a SCIM 404 or 405;
5. the response sent with ``X-Request-ID``; any other exception a SCIM 500 with no
   internal detail;
6. the guard told the status (once the response was sent in full), the metrics counted,
   one ``request`` event logged.

Starlette is used through its public classes only (``Request``, ``Response``); the route
table and the lifespan are the app's own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
import structlog
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..ops.context import RequestStats, start_request_stats
from ..ops.metrics import IN_FLIGHT, QUIRKS, SCIM_LATENCY, SCIM_REQUESTS, child
from ..ops.redaction import logged_detail
from ..scim.errors import ScimError
from .auth_guard.guard import UNGUARDED, Admission, AuthGuard
from .errors import internal_error, not_routed, render_scim_error
from .request_facts import PEER, idp, normalise_path, reject_non_ip_forwarded_client, request_id
from .request_tracing import trace_request
from .resource_names import canonicalise_resource_name
from .routes import health
from .routing import Found, RouteTable
from .state import ProxyState

log = structlog.get_logger("scim_proxy.request")

_SCIM_HEADERS = (b"content-type", b"application/scim+json")

PROBES = frozenset(route.path for route in health.routes)
"""``/healthz``, ``/readyz``, ``/metrics``: logged at ``logging.log_probes``' level when
they succeed."""


class ProxyApp:
    """The scim-proxy ASGI app: the lifespan, and each HTTP request through :meth:`serve`."""

    def __init__(
        self,
        *,
        proxy: ProxyState,
        routes: RouteTable,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = proxy.settings
        self.state = State({"proxy": proxy})
        """``request.app.state.proxy``: what every request shares (settings, upstream)."""
        self.routes = routes
        self.guard = AuthGuard(
            settings=settings.auth, fingerprint_key=settings.logging.fingerprint_key, clock=clock
        )
        self.budget = settings.server.request_budget_seconds
        self.include_values = settings.logging.include_values
        self.tracing = proxy.tracing  # None unless traces are exported: the one check
        # Probes and scrapes come every few seconds: a success is logged at debug unless
        # logging.log_probes asks for info.
        self.probe_level = logging.INFO if settings.logging.log_probes else logging.DEBUG
        trusted = list(settings.auth.trusted_proxies)
        self._http: ASGIApp = self.serve
        if trusted:
            # uvicorn types the app it wraps with its own (stricter) ASGI types.
            self._http = ProxyHeadersMiddleware(self.serve, trusted_hosts=trusted)  # type: ignore[arg-type,assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        kind = scope["type"]
        if kind == "http":
            scope["app"] = self  # request.app
            scope[PEER] = scope.get("client")
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)
        else:  # websocket: not served (closed before it is accepted, i.e. refused)
            await send({"type": "websocket.close", "code": 1000})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Nothing to start; at shutdown, close the upstream pool and the coordinator."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.aclose()
                except Exception as exc:
                    log.exception("shutdown_failed")
                    await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Close the upstream pool and the membership coordinator, flush the spans not yet
        exported (the lifespan's shutdown)."""
        proxy: ProxyState = self.state.proxy
        await proxy.upstream.aclose()
        await proxy.coordinator.aclose()
        if self.tracing is not None:
            await self.tracing.aclose()

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request, from its first byte read to its ``request`` event."""
        started = time.perf_counter()
        reject_non_ip_forwarded_client(scope)
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
        template: str | None = None  # the route's path template, for the log
        traced = None if self.tracing is None else trace_request(self.tracing, scope, stats)
        IN_FLIGHT.inc()
        try:
            response: Response | None = None
            if scope["path"] not in UNGUARDED:
                admission = guard.admit(scope)
                if admission.waiting:
                    await guard.wait_turn(admission)
                if admission.refusal is not None:
                    response = render_scim_error(admission.refusal)
                    # Refused before routing; the log still names what it addressed.
                    found = self.routes.find(scope["method"], scope["path"])
                    template = _note_route(stats, found, scope["method"])
                    if traced is not None and template is not None:
                        traced.routed(scope["method"], template)
                else:
                    admitted = admission
            if response is None:
                path: str = scope["path"]
                found = self.routes.find(scope["method"], path)
                route = found.route
                template = _note_route(stats, found, scope["method"])
                if route is not None:
                    scope["path_params"] = found.params  # request.path_params
                    if traced is not None:
                        traced.routed(scope["method"], route.path)
                if route is None or found.allowed:
                    response = render_scim_error(not_routed(scope["method"], path, found.allowed))
                else:
                    try:
                        response = await route.endpoint(Request(scope, receive, send))
                    except ScimError as exc:
                        response = render_scim_error(exc)
                        exc.__traceback__ = None  # a reused instance would pile them up
            status = response.status_code
            # Every response is built for its request, so its header list is ours to extend.
            response.raw_headers.append(id_header)
            response_started = True
            await response(scope, receive, send)
            # Only now: a 401 the client never got counts against no one.
            answered = status
        except Exception:
            log.exception("unhandled_error", method=scope["method"])
            if not response_started:
                status = await _send_internal_error(send, id_header, stats)
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
                (logging.INFO if scope["path"] not in PROBES else self.probe_level)
                if status < 400
                else logging.WARNING
                if status < 500
                else logging.ERROR
            )
            extra = {"filter": stats.filter_text} if self.include_values else {}
            if status >= 400:
                # What the client was told, so a refusal is explained in the logs too.
                extra["detail"] = logged_detail(stats, self.include_values)
                extra["reason"] = stats.error_reason
            if traced is not None:  # trace_id and span_id join the event to its trace
                extra.update(traced.end(scope, status, stats))
            log.log(
                level,
                "request",
                request_id=rid,
                method=scope["method"],
                route=template,
                resource=stats.resource,
                operation=stats.operation,
                status=status,
                scim_type=stats.scim_type,
                duration_ms=round(elapsed * 1000, 2),
                upstream_calls=stats.upstream_calls,
                upstream_retries=stats.upstream_retries,
                upstream_ms=round(stats.upstream_ms, 2),
                token_fingerprint=stats.token_fingerprint,
                auth_scheme=stats.auth_scheme,
                idp=idp(scope),
                quirks=stats.quirks,
                **extra,
            )


def _note_route(stats: RequestStats, found: Found, method: str) -> str | None:
    """Note the resource and operation of the route found on the request; its template.

    From the route alone, so that a request refused before its endpoint runs (the auth
    guard, a 405) is logged and counted with them too.
    """
    route = found.route
    if route is None:
        return None
    stats.resource = route.resource
    stats.operation = route.operations.get(method)
    return route.path


async def _send_internal_error(
    send: Send, id_header: tuple[bytes, bytes], stats: RequestStats
) -> int:
    """Answer a SCIM 500 with no internal detail; its status."""
    error = internal_error()
    stats.error_detail, stats.error_reason = error.detail, error.reason
    body = orjson.dumps(error.body())
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [_SCIM_HEADERS, (b"content-length", str(len(body)).encode()), id_header],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return error.status
