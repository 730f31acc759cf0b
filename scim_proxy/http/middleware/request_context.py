"""One context per inbound request: its id, its bookkeeping, its outcome log event.

Pure ASGI rather than ``BaseHTTPMiddleware``: it sits on every request's hot path, and
it must also turn an unexpected exception into a SCIM 500 before any server-generated
text reaches the client.
"""

from __future__ import annotations

import logging
import os
import re
import time

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...ops.context import start_request_stats
from ...ops.metrics import IN_FLIGHT, QUIRKS, SCIM_LATENCY, SCIM_REQUESTS, child
from ...ops.redaction import logged_detail
from ..errors import internal_error
from ..idp import recognise_idp
from .resource_names import canonicalise_resource_name

log = structlog.get_logger("scim_proxy.request")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def _request_id(scope: Scope) -> str:
    """``X-Request-ID`` if well-formed, else the trace id of ``traceparent``, else new."""
    traceparent: str | None = None
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
        elif name == b"traceparent":
            traceparent = value.decode("latin-1").strip().lower()
    if traceparent:
        match = _TRACEPARENT.fullmatch(traceparent)
        if match:
            return str(match.group(1))
    return os.urandom(16).hex()


class RequestContextMiddleware:
    """Assigns the request id, opens the request's bookkeeping, logs its outcome."""

    def __init__(
        self, app: ASGIApp, *, budget: float | None = None, include_values: bool = False
    ) -> None:
        self.app = app
        self.budget = budget
        self.include_values = include_values

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        _normalise_path(scope)
        canonicalise_resource_name(scope)
        request_id = _request_id(scope)
        # Other events of the request get its id from ``stats`` (ops/logging.py's
        # add_request_id), not from structlog's contextvars: binding them costs more.
        stats = start_request_stats(self.budget)
        stats.request_id = request_id
        status = 500
        response_started = False
        id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
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
                            (b"content-type", b"application/scim+json"),
                            (b"content-length", str(len(body)).encode()),
                            id_header,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
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
                request_id=request_id,
                method=scope["method"],
                route=_route_template(scope),
                resource=stats.resource,
                operation=stats.operation,
                status=status,
                scim_type=stats.scim_type,
                duration_ms=round(elapsed * 1000, 2),
                upstream_calls=stats.upstream_calls,
                upstream_retries=stats.upstream_retries,
                upstream_ms=round(stats.upstream_ms, 2),
                token_fingerprint=stats.token_fingerprint,
                idp=_idp(scope),
                quirks=stats.quirks,
                **extra,
            )


_SLASHES = re.compile(r"/{2,}")


def _normalise_path(scope: Scope) -> None:
    """Tolerate what clients make of a base URL with a trailing slash: ``/scim/v2//Users/``.

    Repeated slashes collapse and a trailing slash goes, in the scope itself, so routing
    (and the route template logged) see the clean path.
    """
    path: str = scope["path"]
    if "//" in path or (len(path) > 1 and path.endswith("/")):
        normalised = _SLASHES.sub("/", path)
        if len(normalised) > 1 and normalised.endswith("/"):
            normalised = normalised[:-1]
        scope["path"] = normalised


def _route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/scim/v2/Users/{user_id}``), not the path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def _idp(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    agent = next((v for k, v in headers if k == b"user-agent"), b"").decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    return recognise_idp(agent, query)
