"""Whether this process exports OpenTelemetry traces, decided once at start-up.

Tracing is off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (``tracing.mode = "auto"``, the default) or
``tracing.mode = "on"``; ``"off"``, or the standard ``OTEL_SDK_DISABLED=true``, keeps it off
whatever else is set. It needs the ``otel`` extra (``pip install scim-proxy[otel]``; the
Docker image has it): without it, :func:`announce_tracing` logs one warning and the proxy
runs exactly as with tracing off.

:func:`start_tracing` gives the process its :class:`~scim_proxy.ops.spans.Tracing`, or
``None``: that one answer is the cheap check every span-making place looks at.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog

from .config import Settings, TracingMode

if TYPE_CHECKING:
    from .spans import Tracing

log = structlog.get_logger("scim_proxy.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
"""The standard variables whose presence turns tracing on."""
_PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
_EXPORTED_PROTOCOL = "http/protobuf"


def turned_on_by(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """What turns tracing on (variable names, or ``tracing.mode``); empty when it is off."""
    environ = os.environ if environ is None else environ
    mode = settings.tracing.mode
    if mode is TracingMode.off or environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = [name for name in ENDPOINT_VARIABLES if environ.get(name, "").strip()]
    if mode is TracingMode.on:
        return ["tracing.mode", *named]
    return named


def otel_installed() -> bool:
    """Whether the ``otel`` extra's packages import (all of them, as ``spans.py`` uses them)."""
    try:
        from . import spans  # noqa: F401
    except ImportError:
        return False
    return True


def announce_tracing(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Log, once per ``serve`` (beside ``startup``), whether traces are exported.

    ``tracing_on`` names what turned it on and the ``OTEL_*`` variables set (names only:
    ``OTEL_EXPORTER_OTLP_HEADERS`` may hold a collector's API key); ``tracing_unavailable``
    warns when it is asked for without the ``otel`` extra. Nothing when it is off.
    """
    environ = os.environ if environ is None else environ
    reasons = turned_on_by(settings, environ)
    if not reasons:
        return
    if not otel_installed():
        log.warning(
            "tracing_unavailable",
            turned_on_by=reasons,
            detail=f"{' and '.join(reasons)} asks for OpenTelemetry traces, but the "
            "OpenTelemetry packages are not installed: install scim-proxy[otel] (the Docker "
            "image has them). The proxy runs without exporting traces.",
        )
        return
    log.info(
        "tracing_on",
        turned_on_by=reasons,
        otel_variables=sorted(name for name in environ if name.startswith("OTEL_")),
    )
    for name in _PROTOCOL_VARIABLES:
        protocol = environ.get(name, "").strip()
        if protocol and protocol != _EXPORTED_PROTOCOL:
            log.warning(
                "tracing_protocol_ignored",
                variable=name,
                detail=f"{name} asks for {protocol[:32]!r}; scim-proxy exports OTLP over "
                "HTTP/protobuf only: point the endpoint at the collector's OTLP/HTTP port "
                "(4318), not its gRPC one (4317)",
            )


def start_tracing(settings: Settings) -> Tracing | None:
    """This process's tracer when tracing is on and the extra installed, else ``None``.

    The SDK reads the ``OTEL_*`` variables from the process's environment. Silent:
    :func:`announce_tracing` says what was decided, once, in the process that logs
    ``startup`` (with ``--workers``, each worker starts its own tracer).
    """
    if not turned_on_by(settings) or not otel_installed():
        return None
    from .spans import Tracing

    _quiet_sdk_messages()
    return Tracing.from_environment(
        include_values=settings.logging.include_values,
        flush_seconds=settings.tracing.flush_seconds,
    )


class _SdkMessages(logging.Handler):
    """The OpenTelemetry SDK's own messages (a failed export, a full span queue) as
    ``tracing_sdk_message`` events, each kind at most once per ``EVERY`` seconds.

    Left to Python's last-resort handler they would be plain-text lines on stderr, and a
    hung collector would make one per span dropped, written on the request's own path (the
    queue is checked as a span ends): a log pipe slow to drain could then slow requests.
    """

    EVERY = 60.0

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._last: dict[str, float] = {}
        self._repeated: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Log the message unless one of its kind was logged within ``EVERY`` seconds."""
        kind = f"{record.name}:{record.msg}"  # the message's template, not its values
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.EVERY:
            self._repeated[kind] = self._repeated.get(kind, 0) + 1
            return
        if len(self._last) >= 256:  # templates are few; bounded all the same
            self._last.clear()
            self._repeated.clear()
        self._last[kind] = now
        log.log(
            record.levelno,
            "tracing_sdk_message",
            logger=record.name,
            message=record.getMessage()[:300],
            repeated_since_last=self._repeated.pop(kind, 0),
        )


def _quiet_sdk_messages() -> None:
    """Route the ``opentelemetry`` loggers' messages through :class:`_SdkMessages` (once)."""
    sdk = logging.getLogger("opentelemetry")
    if not any(isinstance(handler, _SdkMessages) for handler in sdk.handlers):
        sdk.addHandler(_SdkMessages())
        sdk.propagate = False
