"""Shared fixtures: the simulator, the proxy wired to it in-process, an authenticated client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from scim_proxy.http.pipeline import ProxyApp
from scim_proxy.ops.config import LoggingSettings, Settings
from scim_proxy.ops.logging import configure_logging
from scim_proxy.simulator import SimulatorSettings, SimulatorStore, create_simulator_app
from tests.redis_server import RedisServer

TOKEN = "test-token-3f9a"
UPSTREAM = "http://telemetrytv.test"
PROXY = "http://proxy.test"
BASE = f"{PROXY}/scim/v2"
FIXTURES = Path(__file__).parent / "fixtures"

configure_logging(cache=False)


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the proxy's production loop is uvloop, also asyncio)."""
    return "asyncio"


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """Log at debug for the test (a probe's successful request event is debug), then back."""
    configure_logging(LoggingSettings(level="debug"), cache=False)
    try:
        yield
    finally:
        configure_logging(cache=False)


def fixture(name: str, **values: str) -> Any:
    """A recorded request body: ``fixture("okta/put-deactivate-user", id=user_id)``.

    ``{{name}}`` placeholders in the file are replaced by the given values.
    """
    text = (FIXTURES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return json.loads(text)


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """The simulator's settings; override in a module to seed users or add deviations."""
    return SimulatorSettings(token=TOKEN, users=3)


@pytest.fixture
def simulator(simulator_settings: SimulatorSettings) -> ASGIApp:
    """The TelemetryTV simulator app."""
    return create_simulator_app(simulator_settings)


@pytest.fixture
def store(simulator: ASGIApp) -> SimulatorStore:
    """The simulator's state, for asserting what TelemetryTV ends up holding."""
    state: SimulatorStore = simulator.state.store
    return state


@pytest.fixture
def upstream_calls(simulator: ASGIApp) -> Callable[[], list[tuple[str, str]]]:
    """The (method, path) of every call the simulator received so far."""

    def calls() -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in simulator.state.requests]

    return calls


def proxy_settings() -> Settings:
    """Settings pointed at the simulator, with waits sized for in-process calls."""
    return (
        Settings()
        .replace(
            "upstream",
            base_url=UPSTREAM,
            retry_initial_backoff_seconds=0.01,
            retry_max_backoff_seconds=0.05,
        )
        .replace("groups", settle_seconds=0.02, max_read_age_seconds=0.01)
    )


@pytest.fixture
def settings() -> Settings:
    """The proxy's settings, pointed at the simulator."""
    return proxy_settings()


@pytest.fixture
def proxy(settings: Settings, simulator: ASGIApp) -> ProxyApp:
    """The proxy app, its upstream calls going to the simulator in-process."""
    return create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))


@pytest.fixture
async def client(proxy: ProxyApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the proxy, sending the simulator's token as Okta does."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=proxy),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}", "User-Agent": "Okta SCIM Client 1.0.0"},
    ) as http:
        yield http


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free port (stopped at the end)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
