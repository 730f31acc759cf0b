"""Running ``check --write``'s core in-process against the simulator, with faults on demand.

:class:`Upstream` is the simulator behind httpx's ASGI transport, wrapped so that a test
can fail a chosen write (answer 500, refuse it, or lose its answer after applying it),
fail every delete from some write on (the clean-up's too), or interrupt the check when a
chosen write arrives, as a signal would.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp

from scim_proxy.account_check.command import check_account
from scim_proxy.account_check.interrupts import Interrupts
from scim_proxy.account_check.report import Report
from scim_proxy.ops.config import Settings
from scim_proxy.simulator import SimulatorSettings, SimulatorStore, create_simulator_app
from scim_proxy.telemetrytv.recording import ExchangeLog
from tests.conftest import TOKEN, proxy_settings

WRITES = ("POST", "PATCH", "DELETE")
FULL_RUN_WRITES = 12
"""Upstream writes of a run against the faithful simulator."""


def state(store: SimulatorStore) -> tuple[list[Any], list[Any]]:
    """Everything the simulated account holds: every user and group, as the API shows them."""
    users, _ = store.list_users(per_page=1000)
    groups, _ = store.list_groups(per_page=1000)
    return list(users), list(groups)


@dataclass
class Upstream(httpx.AsyncBaseTransport):
    """The simulator in-process, misbehaving at the write a test chooses."""

    app: ASGIApp
    fail_write: int | None = None
    how: str = "500"
    """``500``; ``refused`` (403); ``lost``: applied, then the connection drops, also on
    every retry of the same request."""
    fail_deletes_from: int | None = None
    """From this write on, every DELETE answers 500 unapplied (the clean-up's too)."""
    interrupt_at: dict[int, signal.Signals] = field(default_factory=dict)
    """Write number -> the signal to interrupt the check with when it arrives."""
    interrupt_after_applying: bool = False
    """Interrupt once the write was applied (its answer then lost), not before sending it."""
    interrupt_on_cleanup: signal.Signals | None = None
    """Interrupt again when the first DELETE after an interruption arrives."""
    interrupts: Interrupts = field(default_factory=Interrupts)
    writes: int = 0
    _lost: set[tuple[str, str, bytes]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.inner = httpx.ASGITransport(app=self.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        key = (request.method, str(request.url), request.content)
        if key in self._lost:
            await self.inner.handle_async_request(request)
            raise httpx.ReadError("connection lost (a retry of a lost write)", request=request)
        if request.method not in WRITES:
            return await self.inner.handle_async_request(request)
        self.writes += 1
        number = self.writes
        if number in self.interrupt_at:
            self.interrupts.interrupt(self.interrupt_at[number])
            if self.interrupt_after_applying:
                response = await self.inner.handle_async_request(request)
                await asyncio.sleep(0)  # the cancellation lands here: the answer is lost
                return response
            await asyncio.sleep(0)  # the cancellation lands here: the write is never sent
        elif (
            self.interrupt_on_cleanup is not None
            and self.interrupts.received
            and request.method == "DELETE"
        ):
            self.interrupts.interrupt(self.interrupt_on_cleanup)
            self.interrupt_on_cleanup = None
            await asyncio.sleep(0)
        failing = self.fail_deletes_from is not None and number >= self.fail_deletes_from
        if failing and request.method == "DELETE":
            return httpx.Response(500, json={"error": "Internal server error"})
        if number == self.fail_write:
            if self.how == "500":
                return httpx.Response(500, json={"error": "Internal server error"})
            if self.how == "refused":
                return httpx.Response(403, json={"error": "Not allowed for this account"})
            self._lost.add(key)
            await self.inner.handle_async_request(request)
            raise httpx.ReadError("connection lost after the write", request=request)
        return await self.inner.handle_async_request(request)


def settings_for(**users: Any) -> Settings:
    """The proxy's test settings (fast retries), with ``[users]`` overrides."""
    settings = proxy_settings()
    return settings.replace("users", **users) if users else settings


def simulator(*deviations: str, users: int = 2) -> ASGIApp:
    """A simulated account with ``users`` users besides the owner, playing ``deviations``."""
    return create_simulator_app(
        SimulatorSettings(token=TOKEN, users=users, deviations=tuple(deviations))
    )


async def run_check(
    upstream: Upstream | ASGIApp,
    settings: Settings | None = None,
    *,
    passwords: Callable[[], str] | None = None,
    write: bool = True,
    emit: Callable[[list[str]], None] | None = None,
) -> tuple[Report, ExchangeLog]:
    """Run the check's core (reads, then writes) against ``upstream``."""
    transport = upstream if isinstance(upstream, Upstream) else Upstream(upstream)
    extra: dict[str, Any] = {} if passwords is None else {"passwords": passwords}
    if emit is not None:
        extra["emit"] = emit
    async with httpx.AsyncClient(transport=transport) as http:
        return await check_account(
            http,
            settings or settings_for(),
            TOKEN,
            write=write,
            interrupts=transport.interrupts,
            **extra,
        )


def statuses(report: Report, phase: str = "write") -> dict[str, str]:
    """Item name -> status, for one phase."""
    return {item.name: item.status.value for item in report.items if item.phase == phase}
