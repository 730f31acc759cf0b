"""OpenTelemetry spans: the process's tracer, the W3C trace context in and out, flushing.

Imported only once ``ops/tracing.py`` has found the ``otel`` extra installed and tracing
turned on; every other module holds a :class:`Tracing` or ``None`` (on the request's
bookkeeping, ``ops/context.py``) and checks that once, so with tracing off nothing here
runs on a request's path. The spans themselves are made where the work is (the pipeline,
the adapter's attempts, the membership locks); this module only gives them the tracer.

Everything goes through the SDK's public constructors, which read the standard variables
themselves: ``TracerProvider()`` (``OTEL_TRACES_SAMPLER`` and its argument,
``OTEL_SDK_DISABLED``), ``Resource.create()`` (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``), ``BatchSpanProcessor()`` (``OTEL_BSP_*``) and
``OTLPSpanExporter()`` (the endpoints, ``OTEL_EXPORTER_OTLP_HEADERS``, timeouts,
certificates, compression). Spans are exported by the batch processor's own thread: ending
a span only queues it, so a slow or dead collector never holds a request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from .. import __version__

log = structlog.get_logger("scim_proxy.tracing")

SERVICE_NAME = "scim-proxy"
"""``service.name`` unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` names one."""

Headers = Sequence[tuple[bytes, bytes]]
"""An ASGI scope's headers: lower-case names and values, as bytes."""


class _ScopeHeaders(Getter[Headers]):
    """Reads ``traceparent`` and ``tracestate`` straight from an ASGI scope's headers."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        """The values of header ``key`` (``None`` when absent)."""
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        """Every header name."""
        return [header.decode("latin-1") for header, _ in carrier]


_SCOPE_HEADERS = _ScopeHeaders()


class LockSpans:
    """The wait for one lock and then its hold, as two spans (``membership.lock.*``)."""

    def __init__(self, tracing: Tracing, kind: str, user_id: str, *, waits: bool) -> None:
        self._tracing = tracing
        self._attributes: dict[str, AttributeValue] = {
            "scim_proxy.lock.kind": kind,
            "scim_proxy.user_id": user_id,
        }
        self._wait: Span | None = tracing.start(
            "membership.lock.wait", {**self._attributes, "scim_proxy.lock.waits": waits}
        )
        self._hold: Span | None = None

    def taken(self) -> None:
        """The lock is held: the wait ends, the hold begins."""
        if self._wait is not None:
            self._wait.set_attribute("scim_proxy.lock.outcome", "taken")
            self._wait.end()
            self._wait = None
            self._hold = self._tracing.start("membership.lock.hold", self._attributes)

    def not_taken(self, outcome: str) -> None:
        """The wait ended without the lock: ``busy``, ``redis_unavailable``, ``cancelled``,
        ``error``."""
        if self._wait is not None:
            self._wait.set_attribute("scim_proxy.lock.outcome", outcome)
            if outcome != "busy":
                Tracing.failed(self._wait, outcome)
            self._wait.end()
            self._wait = None

    def released(self, **attributes: AttributeValue) -> None:
        """The lock is let go (or the wait given up): whichever span is open ends."""
        self.not_taken("cancelled")
        if self._hold is not None:
            for name, value in attributes.items():
                self._hold.set_attribute(f"scim_proxy.lock.{name}", value)
            self._hold.end()
            self._hold = None


class Tracing:
    """The process's tracer provider, and what spans made anywhere in the proxy need."""

    def __init__(
        self, provider: TracerProvider, *, include_values: bool, flush_seconds: float
    ) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("scim_proxy", __version__)
        self.include_values = include_values
        """``logging.include_values``: whether a span may carry a personal value (the
        query string of a list request, a path that is not made of ids)."""
        self.flush_seconds = flush_seconds
        self._propagator = TraceContextTextMapPropagator()
        self._closing: threading.Event | None = None
        self._close_by = 0.0
        self._gave_up = False

    @classmethod
    def from_environment(cls, *, include_values: bool, flush_seconds: float) -> Tracing | None:
        """A provider exporting OTLP/HTTP through a batch processor, configured by the
        standard ``OTEL_*`` variables; ``None`` when ``OTEL_SDK_DISABLED`` turns the SDK off.
        """
        resource = Resource.create({"service.version": __version__})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            # The SDK's own default, used only when no variable named the service.
            resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
        # No exit hook of the SDK's: the proxy flushes at shutdown itself, within
        # tracing.flush_seconds (an exit hook would wait on a hung collector for 30 s).
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        if isinstance(provider.get_tracer("scim_proxy"), trace.NoOpTracer):
            provider.shutdown()
            return None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider, include_values=include_values, flush_seconds=flush_seconds)

    @property
    def service_name(self) -> str:
        """The ``service.name`` the spans are exported under."""
        return str(self.provider.resource.attributes.get("service.name", SERVICE_NAME))

    def start(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Span:
        """A span, child of the span current in this context; the caller ends it."""
        return self.tracer.start_span(name, kind=kind, attributes=attributes)

    def start_client(self, name: str, attributes: Mapping[str, AttributeValue]) -> Span:
        """A CLIENT span (one upstream attempt)."""
        return self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    def start_server(
        self, name: str, headers: Headers, attributes: Mapping[str, AttributeValue]
    ) -> tuple[Span, object]:
        """A SERVER span continuing the request's ``traceparent`` (and ``tracestate``), made
        current for the rest of the request: the span, and the token :meth:`finish_server`
        takes to make the earlier context current again."""
        parent = self._propagator.extract(headers, getter=_SCOPE_HEADERS)
        span = self.tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def finish_server(span: Span, token: object) -> None:
        """End the SERVER span and leave its context."""
        span.end()
        otel_context.detach(token)  # type: ignore[arg-type]

    def lock_spans(self, kind: str, user_id: str, *, waits: bool = True) -> LockSpans:
        """The spans of one lock: waiting for it now, then holding it."""
        return LockSpans(self, kind, user_id, waits=waits)

    def inject(self, headers: MutableMapping[str, str], span: Span) -> None:
        """Put ``span``'s ``traceparent`` (and ``tracestate``) into outgoing ``headers``."""
        self._propagator.inject(headers, context=trace.set_span_in_context(span))

    @staticmethod
    def failed(span: Span, error_type: str) -> None:
        """Mark ``span`` as failed with a short, value-free ``error.type``."""
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR))

    @staticmethod
    def ids(span: Span) -> dict[str, Any]:
        """``trace_id`` and ``span_id`` of ``span``, as the logs carry them."""
        context = span.get_span_context()
        return {
            "trace_id": trace.format_trace_id(context.trace_id),
            "span_id": trace.format_span_id(context.span_id),
        }

    def force_flush(self) -> bool:
        """Export every span ended so far now, in this thread (tests and benchmarks)."""
        return self.provider.force_flush()

    def close(self) -> bool:
        """Export what is left and stop, waiting at most ``flush_seconds`` in all (whoever
        calls first starts the clock): True when everything left in time."""
        if self._closing is None:
            self._closing = threading.Event()
            self._close_by = time.monotonic() + self.flush_seconds
            threading.Thread(
                target=self._shut_down,
                args=(self._closing,),
                name="scim-proxy-trace-flush",
                daemon=True,  # a process that gave up on the collector still exits
            ).start()
        if self._gave_up:
            return False
        done = self._closing.wait(max(0.0, self._close_by - time.monotonic()))
        if not done:
            self._gave_up = True
            log.warning(
                "trace_flush_incomplete",
                flush_seconds=self.flush_seconds,
                detail="the trace collector did not take the last spans within "
                "tracing.flush_seconds; they are dropped so the process stops on time",
            )
        return done

    async def aclose(self) -> bool:
        """:meth:`close` without holding the event loop (the app's lifespan shutdown)."""
        return await asyncio.to_thread(self.close)

    def _shut_down(self, done: threading.Event) -> None:
        # Its own thread: the provider's shutdown joins the batch processor's thread, which
        # may be waiting on a collector that never answers.
        try:
            self.provider.shutdown()
        finally:
            done.set()
