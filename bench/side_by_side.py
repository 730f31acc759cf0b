"""Another tree of the proxy and this one, side by side with the forwarder, one process each.

    python -m bench.side_by_side /tmp/main-copy --rounds 5 --seconds 4

For a change's before and after in one run: ``scim-proxy serve`` from the given tree (for
example ``git archive main | tar -x -C /tmp/main-copy``) and from this one, and
bench/forwarder.py, each one process against one simulator of 1,000 users. wrk then runs
each operation against the three in turn, round after round, the order rotating each
round. Printed per operation: each proxy's CPU µs per request (median over the rounds),
the forwarder's CPU over the proxy's within each round (the ratio the targets are read
from, docs/performance.md) and the median of each round's p50 latency over the
forwarder's. Servers still share the machine, but what changes between rounds touches
all three alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from bench.run import ROOT, Load, free_port, process, scenarios, simulator, wrk

OPERATIONS = ("GET user by id", "userName eq filter", "page of 100 users", "POST user")


def server(args: list[str], tree: Path, ready_url: str) -> AbstractContextManager[int]:
    """Run ``python -m <args>`` with ``tree``'s code until the block ends; yields its pid."""
    # Run from the tree itself: python -m puts the working directory first on sys.path.
    return process(
        [sys.executable, "-m", *args], ready_url, env={"PYTHONPATH": str(tree)}, cwd=tree
    )


def main(argv: list[str] | None = None) -> int:
    """Measure both trees against the forwarder and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", type=Path, help="the other tree (before)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4, help="wrk duration per cell")
    args = parser.parse_args(argv)
    trees = {"other": args.other.resolve(), "this": ROOT}
    sim = free_port()
    upstream = f"http://127.0.0.1:{sim}"
    ports = {"other": free_port(), "this": free_port(), "forwarder": free_port()}
    results: dict[tuple[str, int], dict[str, list[Load]]] = {}
    with (
        simulator(sim, 1_000),
        tempfile.TemporaryDirectory() as tmp,
        server(
            ["scim_proxy", "serve", "--port", str(ports["other"]), "--upstream", upstream],
            trees["other"],
            f"http://127.0.0.1:{ports['other']}/healthz",
        ) as other,
        server(
            ["scim_proxy", "serve", "--port", str(ports["this"]), "--upstream", upstream],
            trees["this"],
            f"http://127.0.0.1:{ports['this']}/healthz",
        ) as this,
        server(
            ["bench.forwarder", "--port", str(ports["forwarder"]), "--upstream", upstream],
            trees["this"],
            f"http://127.0.0.1:{ports['forwarder']}/scim/v2/Users?count=1",
        ) as forwarder,
    ):
        pids = {"other": other, "this": this, "forwarder": forwarder}
        cases = [case for case in scenarios(sim, Path(tmp)) if case[0] in OPERATIONS]
        order = ["other", "this", "forwarder"]
        for done in range(args.rounds):
            for name, path, _, script, _ in cases:
                for connections in (1, 32) if name == "GET user by id" else (32,):
                    for who in order:
                        load = wrk(
                            f"http://127.0.0.1:{ports[who]}{path}",
                            connections=connections,
                            seconds=args.seconds,
                            script=script,
                            pid=pids[who],
                        )
                        results.setdefault((name, connections), {}).setdefault(who, []).append(load)
            order = order[1:] + order[:1]
            print(f"round {done + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    print(
        "| operation | conc. | CPU µs: other / this / forwarder | CPU ratio: other; this "
        "| p50 over the forwarder (ms): other; this |"
    )
    print("|---|---|---|---|---|")
    for (name, connections), by in results.items():
        cpu = {who: statistics.median(load.cpu_us or 0.0 for load in by[who]) for who in by}
        ratios = {
            who: [
                (fwd.cpu_us or 0.0) / (load.cpu_us or 1.0)
                for load, fwd in zip(by[who], by["forwarder"], strict=True)
            ]
            for who in ("other", "this")
        }
        per_round = "; ".join(
            ", ".join(f"{r:.2f}" for r in ratios[who])
            + f" (median {statistics.median(ratios[who]):.2f})"
            for who in ("other", "this")
        )
        over = {
            who: statistics.median(
                load.p50_ms - fwd.p50_ms for load, fwd in zip(by[who], by["forwarder"], strict=True)
            )
            for who in ("other", "this")
        }
        p50 = f"{over['other']:+.2f}; {over['this']:+.2f}"
        print(
            f"| {name} | {connections} | {cpu['other']:,.0f} / {cpu['this']:,.0f} / "
            f"{cpu['forwarder']:,.0f} | {per_round} | {p50} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
