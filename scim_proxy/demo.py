"""``scim-proxy demo``: the built-in TelemetryTV simulator and the proxy in front of it.

Both run in this one process, on localhost, so the demo sets what that implies whatever
a configuration file says: one worker, memberships coordinated by this process's own
locks (it is the only writer, so no settle wait), the simulator as the upstream and
console logs.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from .ops.config import Coordination, LogFormat, Settings, load_settings
from .ops.logging import configure_logging
from .serving import uvicorn_config

DEMO_TOKEN = "demo-token"  # noqa: S105 - the demo simulator's public token


def demo_settings(
    config: str | None, host: str, port: int, upstream_url: str
) -> tuple[Settings, list[str]]:
    """The proxy's settings for the demo, and a line for each configured value overridden.

    ``server.workers`` goes first, to 1, so that a file asking for more workers is not
    refused for the coordination the demo sets next.
    """
    loaded = load_settings(config)
    notes = []
    if loaded.server.workers > 1:
        notes.append(
            f"server.workers = {loaded.server.workers} from the configuration is ignored: "
            "the demo runs one process"
        )
    settings = (
        loaded.replace("server", host=host, port=port, workers=1)
        .replace("upstream", base_url=upstream_url)
        .replace("logging", format=LogFormat.console)
        .replace("groups", coordination=Coordination.process)
    )
    return settings, notes


def demo(args: argparse.Namespace) -> int:
    """Run the simulator and the proxy in front of it, on localhost."""
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

    async def run_both() -> None:
        servers = [
            uvicorn.Server(uvicorn_config(sim_app, "127.0.0.1", args.simulator_port)),
            uvicorn.Server(uvicorn_config(proxy_app, args.host, args.port, settings)),
        ]
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(run_both())
    return 0
