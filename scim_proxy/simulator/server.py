"""Serve the TelemetryTV simulator over real HTTP with uvicorn (demos and benchmarks)."""

from __future__ import annotations

import uvicorn

from scim_proxy.simulator.app import create_simulator_app
from scim_proxy.simulator.model import SimulatorSettings

__all__ = ["run_simulator"]


def run_simulator(settings: SimulatorSettings, host: str, port: int) -> None:
    """Build a simulator app from `settings` and serve it until interrupted (blocking)."""
    app = create_simulator_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="warning")
