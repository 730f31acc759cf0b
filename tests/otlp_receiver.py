"""A local OTLP/HTTP trace receiver on 127.0.0.1, for the tracing tests.

It keeps every export request's raw bytes (to search them for secrets) and decodes them
with opentelemetry-proto's public message classes. ``hang=True`` makes it a collector that
accepts each export and never answers (until :meth:`OtlpReceiver.stop`), noting that it
holds one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def attribute_value(value: AnyValue) -> Any:
    """A protobuf ``AnyValue`` as a Python value (lists as lists)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [attribute_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    """A protobuf attribute list as a dict."""
    found: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        found[pair.key] = attribute_value(pair.value)
    return found


@dataclass(frozen=True)
class ExportedSpan:
    """One exported span, its ids as hex as the logs and W3C headers spell them."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    trace_state: str
    attributes: dict[str, Any]
    status_code: int
    resource: dict[str, Any]
    events: int


class OtlpReceiver:
    """``http://127.0.0.1:<port>``: POST /v1/traces answered 200 (or held, ``hang``)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.held = threading.Event()
        """Set once an export is being held without an answer (``hang``)."""
        self.holding = 0
        """Exports being held right now (``hang``): their senders are still waiting."""
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.paths.append(self.path)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                receiver.bodies.append(body)
                if receiver.hang:
                    receiver.holding += 1
                    receiver.held.set()
                    receiver._release.wait()
                    receiver.holding -= 1
                    self.close_connection = True
                    return  # the connection closes with no answer at all
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The value for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpReceiver:
        """Start serving (in a thread of its own)."""
        self._thread.start()
        return self

    def answer_from_now(self) -> None:
        """Stop hanging: a held export's connection closes unanswered, later ones are
        answered (the exporter's retry then succeeds and its thread ends)."""
        self.hang = False
        self._release.set()

    def stop(self) -> None:
        """Let any held export go (its connection closed unanswered) and stop serving."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def raw(self) -> bytes:
        """Every export request's bytes, joined."""
        return b"".join(self.bodies)

    def spans(self) -> list[ExportedSpan]:
        """Every span exported so far, decoded."""
        found = []
        for body in self.bodies:
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(
                            ExportedSpan(
                                name=span.name,
                                kind=span.kind,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                trace_state=span.trace_state,
                                attributes=attributes(span.attributes),
                                status_code=span.status.code,
                                resource=resource,
                                events=len(span.events),
                            )
                        )
        return found

    def named(self, name: str) -> list[ExportedSpan]:
        """The spans called ``name``."""
        return [span for span in self.spans() if span.name == name]
