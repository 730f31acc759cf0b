"""Fixtures driving the simulator in-process through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.simulator import (
    RecordedRequest,
    SimulatorSettings,
    SimulatorStore,
    create_simulator_app,
)

TOKEN_AUTH = {"Authorization": "Token sim-token"}


@dataclass
class Sim:
    """A simulator app with an authenticated client bound to it."""

    app: ASGIApp
    client: httpx.AsyncClient

    @property
    def store(self) -> SimulatorStore:
        store: SimulatorStore = self.app.state.store
        return store

    @property
    def requests(self) -> list[RecordedRequest]:
        requests: list[RecordedRequest] = self.app.state.requests
        return requests

    async def create_user(self, email: str, **fields: Any) -> dict[str, Any]:
        body = {"email": email, "password": "correct horse", **fields}
        response = await self.client.post("/users", json=body)
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        return user

    async def create_group(self, name: str) -> dict[str, Any]:
        response = await self.client.post("/user-groups", json={"name": name})
        assert response.status_code == 201, response.text
        group: dict[str, Any] = response.json()
        return group


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Sim]]:
    """Factory: `make_sim(**settings_overrides)` -> Sim; clients are closed afterwards."""
    clients: list[httpx.AsyncClient] = []

    def make(**overrides: Any) -> Sim:
        app = create_simulator_app(SimulatorSettings(**overrides))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://telemetrytv.test",
            headers=TOKEN_AUTH,
        )
        clients.append(client)
        return Sim(app, client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def sim(make_sim: Callable[..., Sim]) -> Sim:
    """A simulator with default settings (owner + Admin group only)."""
    return make_sim()
