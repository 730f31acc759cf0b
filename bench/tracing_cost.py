"""What tracing costs ``scim-proxy serve``: off, on, and with the collector down or hung.

    python -m bench.tracing_cost --rounds 3 --seconds 3

One simulator of 1,000 users; four ``scim-proxy serve`` processes (one each, default
settings) that differ only in their OTEL variables: none (``off``), a collector stand-in
taking every export (``on``, bench/otlp_sink.py in its own process, so its CPU is not the
proxy's), a closed port (``dead``) and a stand-in that accepts exports and never answers
(``hung``). wrk runs each operation against the four in turn, round after round, the order
rotating. Printed per operation: each proxy's CPU µs per request and p50 / p99 latency
(medians over the rounds). The default sampler (parent-based, always on) samples every
request: the most tracing can cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.run import Load, free_port, process, scenarios, simulator, wrk

OPERATIONS = ("GET user by id", "userName eq filter", "POST user")
MODES = ("off", "on", "dead", "hung")


def main(argv: list[str] | None = None) -> int:
    """Measure the four proxies and print a table (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per cell")
    args = parser.parse_args(argv)
    sim, sink, hung_sink = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{sim}"
    endpoints = {
        "off": None,
        "on": f"http://127.0.0.1:{sink}",
        "dead": f"http://127.0.0.1:{free_port()}",
        "hung": f"http://127.0.0.1:{hung_sink}",
    }
    ports = {mode: free_port() for mode in MODES}
    results: dict[tuple[str, int], dict[str, list[Load]]] = {}
    python = sys.executable
    with (
        simulator(sim, 1_000),
        tempfile.TemporaryDirectory() as tmp,
        process(
            [python, "-m", "bench.otlp_sink", "--port", str(sink)],
            f"http://127.0.0.1:{sink}/",
        ),
        process(
            [python, "-m", "bench.otlp_sink", "--port", str(hung_sink), "--hang"],
            f"http://127.0.0.1:{hung_sink}/",
        ),
    ):
        cases = [case for case in scenarios(sim, Path(tmp)) if case[0] in OPERATIONS]
        servers = [
            process(
                [
                    python,
                    "-m",
                    "scim_proxy",
                    "serve",
                    "--upstream",
                    upstream,
                    *("--port", str(ports[mode])),
                ],
                f"http://127.0.0.1:{ports[mode]}/healthz",
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint} if endpoint else None,
            )
            for mode, endpoint in endpoints.items()
        ]
        with servers[0] as off, servers[1] as on, servers[2] as dead, servers[3] as hung:
            pids = {"off": off, "on": on, "dead": dead, "hung": hung}
            order = list(MODES)
            for done in range(args.rounds):
                for name, path, _, script, _ in cases:
                    for connections in (1, 32) if name == "GET user by id" else (32,):
                        for mode in order:
                            load = wrk(
                                f"http://127.0.0.1:{ports[mode]}{path}",
                                connections=connections,
                                seconds=args.seconds,
                                script=script,
                                pid=pids[mode],
                            )
                            results.setdefault((name, connections), {}).setdefault(mode, []).append(
                                load
                            )
                order = order[1:] + order[:1]
                print(f"round {done + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    print("| operation | conc. | " + " | ".join(f"{m}: CPU µs, p50 / p99 ms" for m in MODES) + " |")
    print("|---|---|" + "---|" * len(MODES))
    for (name, connections), by in results.items():
        cells = []
        for mode in MODES:
            loads = by[mode]
            cpu = statistics.median(load.cpu_us or 0.0 for load in loads)
            p50 = statistics.median(load.p50_ms for load in loads)
            p99 = statistics.median(load.p99_ms for load in loads)
            cells.append(f"{cpu:.0f}, {p50:.2f} / {p99:.2f}")
        print(f"| {name} | {connections} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
