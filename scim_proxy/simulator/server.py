"""Serve the TelemetryTV simulator over real HTTP with uvicorn (demos and benchmarks)."""

from __future__ import annotations

import logging

import uvicorn

from scim_proxy.ops.stdout_guard import when_stdout_closes
from scim_proxy.simulator.app import create_simulator_app
from scim_proxy.simulator.faults import DroppedConnection
from scim_proxy.simulator.model import SimulatorSettings

__all__ = ["quiet_dropped_connections", "run_simulator"]


class _NotInjected(logging.Filter):
    """Keeps uvicorn from logging a traceback for every connection dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def quiet_dropped_connections() -> None:
    """Silence uvicorn's error log for injected ``drop`` faults (real errors still show)."""
    logging.getLogger("uvicorn.error").addFilter(_NotInjected())


def run_simulator(settings: SimulatorSettings, host: str, port: int) -> None:
    """Build a simulator app from `settings` and serve it until interrupted (blocking)."""
    app = create_simulator_app(settings)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    quiet_dropped_connections()
    # Its output's reader is gone (simulator --log-requests | head): stop as on SIGTERM.
    when_stdout_closes(lambda: setattr(server, "should_exit", True))
    server.run()
