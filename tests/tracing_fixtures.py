"""What the tracing tests share: a clean OTEL_* environment, a receiver, a traced app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from scim_proxy.http.app import create_app
from scim_proxy.http.pipeline import ProxyApp
from scim_proxy.ops.config import Settings
from scim_proxy.ops.spans import Tracing
from scim_proxy.ops.tracing import start_tracing
from tests.conftest import BASE, TOKEN
from tests.otlp_receiver import OtlpReceiver

SERVER, CLIENT, INTERNAL = 2, 3, 1
"""``Span.SpanKind`` values of the OTLP protobuf."""
STATUS_ERROR = 2


def clean_otel_environment(monkeypatch: pytest.MonkeyPatch, endpoint: str | None) -> None:
    """No OTEL_* variable of the machine's own; ``OTEL_EXPORTER_OTLP_ENDPOINT`` if given."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    if endpoint is not None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)


def traced_settings(settings: Settings) -> Settings:
    """Test settings with a short flush at shutdown (a hung collector is given up on soon)."""
    return settings.replace("tracing", flush_seconds=0.5)


def start(settings: Settings) -> Tracing:
    """The tracer ``serve`` would start with this environment (tracing must be on)."""
    tracing = start_tracing(settings)
    assert tracing is not None
    return tracing


class HeaderRecorder:
    """An upstream in front of the simulator that keeps every request's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.requests.append((f"{scope['method']} {scope['path']}", headers))
        await self.app(scope, receive, send)


def traced_app(settings: Settings, upstream: ASGIApp, tracing: Tracing | None) -> ProxyApp:
    """The whole proxy, its upstream calls going to ``upstream`` in-process."""
    return create_app(
        settings, upstream_transport=httpx.ASGITransport(app=upstream), tracing=tracing
    )


async def client_of(app: ProxyApp, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending the simulator's token as Okta does."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "User-Agent": "Okta SCIM Client 1.0.0",
            **headers,
        },
    ) as http:
        yield http


def running_receiver(*, hang: bool = False) -> Iterator[OtlpReceiver]:
    """A local OTLP/HTTP receiver for a fixture to yield, stopped at the end."""
    found = OtlpReceiver(hang=hang).start()
    try:
        yield found
    finally:
        found.stop()
