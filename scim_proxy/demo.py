"""``scim-proxy demo``: the built-in TelemetryTV simulator and the proxy in front of it.

Both run in this one process, on localhost, so the demo sets what that implies whatever
a configuration file says, and says so at start for each such setting the file (or the
environment) sets otherwise: where the proxy listens (``--host``, ``--port``), one
worker, the simulator as the upstream, console logs, and memberships coordinated by this
process's own locks (it is the only writer, so no settle wait and no Redis).

Ctrl-C (or SIGTERM) stops both servers at once and the demo says it stopped; a second
one stops waiting for requests still in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Iterator, Mapping
from typing import Any

import uvicorn

from .ops.config import (
    Coordination,
    LogFormat,
    Settings,
    given_settings,
    load_settings,
    redis_url_for_logs,
)
from .ops.logging import configure_logging
from .ops.redaction import url_without_credentials
from .ops.stdout_guard import exit_code, when_stdout_closes
from .serving import uvicorn_config

DEMO_TOKEN = "demo-token"  # noqa: S105 - the demo simulator's public token

_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def _overridden(host: str, port: int, upstream_url: str) -> dict[str, str]:
    """The settings the demo sets itself, ``section.key`` -> why."""
    listens = f"the demo listens on {host}:{port} (--host, --port)"
    coordinates = "the demo coordinates memberships with its own process's locks"
    return {
        "server.host": listens,
        "server.port": listens,
        "server.workers": "the demo runs one process",
        "upstream.base_url": f"the demo's proxy calls its own simulator, {upstream_url}",
        "logging.format": "the demo logs in the console format",
        "groups.coordination": f"{coordinates} (process)",
        "groups.redis_url": f"{coordinates}, without Redis",
    }


def _shown(name: str, value: Any) -> str:
    """A setting's value as the file would write it, without credentials."""
    if name == "groups.redis_url":
        value = redis_url_for_logs(str(value))
    elif name == "upstream.base_url":
        value = url_without_credentials(str(value))
    value = getattr(value, "value", value)  # an enum: its setting's spelling
    return f'"{value}"' if isinstance(value, str) else str(value)


def _value(settings: Settings, name: str) -> Any:
    section, key = name.split(".")
    return getattr(getattr(settings, section), key)


def demo_settings(
    config: str | None,
    host: str,
    port: int,
    upstream_url: str,
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings, list[str]]:
    """The proxy's settings for the demo, and a line for each configured value overridden.

    ``server.workers`` goes first, to 1, so that a file asking for more workers is not
    refused for the coordination the demo sets next.
    """
    loaded = load_settings(config, environ)
    given = given_settings(config, environ)
    settings = (
        loaded.replace("server", host=host, port=port, workers=1)
        .replace("upstream", base_url=upstream_url)
        .replace("logging", format=LogFormat.console)
        .replace("groups", coordination=Coordination.process, redis_url="")
    )
    notes = []
    for name, why in _overridden(host, port, upstream_url).items():
        configured = _value(loaded, name)
        if name in given and configured != _value(settings, name):
            notes.append(
                f"{name} = {_shown(name, configured)} from {given[name]} is ignored: {why}"
            )
    return settings, notes


def demo(args: argparse.Namespace) -> int:
    """Run the simulator and the proxy in front of it, on localhost, until Ctrl-C."""
    from .http.app import create_app
    from .simulator import SimulatorSettings, create_simulator_app

    upstream_url = f"http://127.0.0.1:{args.simulator_port}"
    settings, notes = demo_settings(args.config, args.host, args.port, upstream_url)
    configure_logging(settings.logging)
    sim_app = create_simulator_app(SimulatorSettings(token=args.token, users=args.users))
    proxy_app = create_app(settings)
    base = f"http://{args.host}:{args.port}/scim/v2"
    print(
        "\n".join(
            [
                "scim-proxy demo: the proxy in front of the built-in TelemetryTV simulator",
                f"  SCIM base URL   {base}",
                f"  API token       {args.token}",
                f"  simulator       {upstream_url}",
                *(f"  note            {note}" for note in notes),
                "",
                "Try:",
                f"  curl -H 'Authorization: Bearer {args.token}' '{base}/Users?count=2'",
                "",
                "Ctrl-C stops both.",
            ]
        ),
        flush=True,
    )
    servers = [
        _DemoServer(uvicorn_config(sim_app, "127.0.0.1", args.simulator_port)),
        _DemoServer(uvicorn_config(proxy_app, args.host, args.port, settings)),
    ]
    signum = asyncio.run(_serve_together(servers))
    if signum is None:  # stdout's reader went away, or a server could not start
        return exit_code(0 if all(s.started for s in servers) else 1)
    print(
        f"scim-proxy demo stopped ({_SIGNAL_NAMES.get(signum, signum.name)}): the proxy and "
        "the simulator are down",
        flush=True,
    )
    return 128 + signum


class _DemoServer(uvicorn.Server):
    """uvicorn's server, leaving the stop signals to the demo, which stops both at once.

    uvicorn's own handling, one server in another, stopped the proxy first and the
    simulator only once the proxy was down, signal re-raised by signal re-raised.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: :func:`_serve_together` handles SIGINT and SIGTERM."""
        yield


async def _serve_together(servers: list[_DemoServer]) -> signal.Signals | None:
    """Serve until SIGINT or SIGTERM (returned) or stdout's reader goes away (None)."""
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def stop(signum: signal.Signals | None) -> None:
        if signum is not None:
            received.append(signum)
        for server in servers:
            # A second signal stops waiting for requests still in flight.
            server.force_exit = server.should_exit
            server.should_exit = True

    stopping = (signal.SIGINT, signal.SIGTERM)
    for signum in stopping:
        loop.add_signal_handler(signum, stop, signum)
    when_stdout_closes(lambda: stop(None))
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        for signum in stopping:
            loop.remove_signal_handler(signum)
    return received[0] if received else None
