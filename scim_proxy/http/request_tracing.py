"""The SERVER span of one request, while tracing is on (``ops/tracing.py``).

The pipeline (``pipeline.py``) calls :func:`trace_request` at the request's start, then
:meth:`TracedRequest.routed` once routing knows the template, and :meth:`TracedRequest.end`
with the outcome: one span named ``METHOD template`` (``GET /scim/v2/Users/{user_id}``),
continuing an inbound ``traceparent``, current while the request runs, so the adapter's
CLIENT spans and the membership lock spans are its children.

Attributes carry no personal value unless ``logging.include_values`` is on: the query
string (which may hold a filter's value) is left out, and so is a path holding anything
but the characters of resource names and TelemetryTV's ids (an email sent as an id).
Health probes and metrics scrapes are not traced: they would fill a backend with noise.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.types import Scope

from ..ops.context import RequestStats
from .auth_guard.guard import METRICS_PATH, UNGUARDED
from .request_facts import idp

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from opentelemetry.util.types import AttributeValue

    from ..ops.spans import Tracing

NOT_TRACED = UNGUARDED | {METRICS_PATH}
"""``/healthz``, ``/readyz``, ``/metrics``: probes and scrapes, every few seconds."""

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.-]*")
"""Resource names and ids (ids are ``[A-Za-z0-9_-]``): nothing a person typed."""


class TracedRequest:
    """The SERVER span of a request being handled, and the context it made current."""

    __slots__ = ("_known_method", "_span", "_token", "_tracing")

    def __init__(self, tracing: Tracing, span: Span, token: object, known_method: bool) -> None:
        self._tracing = tracing
        self._span = span
        self._token = token
        self._known_method = known_method

    def routed(self, method: str, template: str) -> None:
        """Name the span after the route's template, now that routing found it."""
        self._span.update_name(f"{method if self._known_method else 'HTTP'} {template}")
        self._span.set_attribute("http.route", template)

    def end(self, scope: Scope, status: int, stats: RequestStats) -> dict[str, str]:
        """End the span with the request's outcome; its ids, for the ``request`` event."""
        span = self._span
        attributes: dict[str, AttributeValue] = {
            "http.response.status_code": status,
            "scim_proxy.idp": idp(scope),
            "scim_proxy.upstream_calls": stats.upstream_calls,
        }
        for name, value in (
            ("scim_proxy.resource", stats.resource),
            ("scim_proxy.operation", stats.operation),
            ("scim_proxy.scim_type", stats.scim_type),
            ("scim_proxy.reason", stats.error_reason if status >= 400 else None),
        ):
            if value is not None:
                attributes[name] = value
        if stats.quirks:
            attributes["scim_proxy.quirks"] = stats.quirks
        span.set_attributes(attributes)  # one call: the SDK takes its lock once
        if status >= 500:
            # A server span fails on 5xx only: a 4xx is the client's (semantic conventions).
            self._tracing.failed(span, stats.error_reason or str(status))
        ids = self._tracing.ids(span)
        self._tracing.finish_server(span, self._token)
        return ids


def trace_request(tracing: Tracing, scope: Scope, stats: RequestStats) -> TracedRequest | None:
    """Start the request's SERVER span (none for probes and scrapes), and let the layers
    below see the tracer on the request's bookkeeping."""
    path: str = scope["path"]
    if path in NOT_TRACED:
        return None
    stats.tracing = tracing
    method: str = scope["method"]
    known = method in _KNOWN_METHODS
    attributes: dict[str, AttributeValue] = {
        "http.request.method": method if known else "_OTHER",
        "url.scheme": scope.get("scheme", "http"),
    }
    if not known:
        attributes["http.request.method_original"] = method[:32]
    if stats.request_id is not None:
        attributes["scim_proxy.request_id"] = stats.request_id
    include_values = tracing.include_values
    if include_values or _PLAIN_PATH.fullmatch(path):
        attributes["url.path"] = path
    query: bytes = scope.get("query_string", b"")
    if include_values and query:
        attributes["url.query"] = query.decode("latin-1")
    client = scope.get("client")
    if client:
        attributes["client.address"] = str(client[0])
    span, token = tracing.start_server(method if known else "HTTP", scope["headers"], attributes)
    return TracedRequest(tracing, span, token, known)
