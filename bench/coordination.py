"""Membership changes in each ``groups.coordination`` mode, side by side in one run.

    python -m bench.coordination     # needs redis-server (apt-get install redis-server)

Starts, on 127.0.0.1 as separate processes: the TelemetryTV simulator (1,000 users), a
redis-server of its own (no persistence), and ``scim-proxy serve`` (one worker, default
settings otherwise) once per mode: ``redis``, ``process`` and ``verify``. For each it
measures a one-member group PATCH (p50 and p99 over many requests, and the upstream calls
each costs, against the simulator's own round trip) and one PATCH adding 1,000 members
(wall time and upstream calls, from the proxy's /metrics). Then it rewrites the
``coordination`` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from bench.run import (
    DOC,
    TOKEN,
    TV_AUTH,
    free_port,
    machine,
    process,
    simulator,
    table,
    upstream_calls,
)

SECTION = "coordination"
MODES = ("redis", "process", "verify")
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a free port, without persistence; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


def proxy(port: int, upstream: str, mode: str, redis_url: str) -> Any:
    """``scim-proxy serve`` with one worker in ``mode``."""
    env = {"SCIM_PROXY_GROUPS_COORDINATION": mode, "SCIM_PROXY_LOGGING_LEVEL": "warning"}
    if mode == "redis":
        env["SCIM_PROXY_GROUPS_REDIS_URL"] = redis_url
    return process(
        [sys.executable, "-m", "scim_proxy", "serve", "--port", str(port), "--upstream",
         upstream, "--workers", "1"],
        f"http://127.0.0.1:{port}/healthz",
        env=env,
    )  # fmt: skip


def _add(members: list[str]) -> dict[str, Any]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in members]}],
    }


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def measure(mode: str, sim: int, ids: list[str], redis_url: str, samples: int) -> list[str]:
    """One table row for ``mode``."""
    port = free_port()
    with proxy(port, f"http://127.0.0.1:{sim}", mode, redis_url):
        scim = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/scim/v2",
            timeout=120,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        single = scim.post("/Groups", json={"displayName": f"One {mode}"}).json()["id"]
        bulk = scim.post("/Groups", json={"displayName": f"Bulk {mode}"}).json()["id"]
        latencies = []
        before = upstream_calls(port)
        for member in ids[:samples]:
            started = time.perf_counter()
            scim.patch(f"/Groups/{single}", json=_add([member])).raise_for_status()
            latencies.append(time.perf_counter() - started)
        single_calls = (upstream_calls(port) - before) / samples
        before = upstream_calls(port)
        started = time.perf_counter()
        scim.patch(f"/Groups/{bulk}", json=_add(ids)).raise_for_status()
        bulk_wall = time.perf_counter() - started
        bulk_calls = upstream_calls(port) - before
        scim.close()
    return [
        f"`{mode}`",
        f"{_percentile(latencies, 0.5) * 1000:.1f} ms",
        f"{_percentile(latencies, 0.99) * 1000:.1f} ms",
        f"{single_calls:.0f} (n={samples})",
        f"{bulk_wall:.2f} s",
        f"{bulk_calls:,.0f}",
    ]


def round_trip(sim: int, user_id: str, samples: int = 200) -> float:
    """The simulator's own p50 for one user read, in seconds (what a call costs at least)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{sim}", headers=TV_AUTH) as tv:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            tv.get(f"/users/{user_id}").raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(samples: int, verify_samples: int) -> str:
    """Every mode against one simulator and one Redis; the Markdown section."""
    sim = free_port()
    with simulator(sim, 1_000), redis_server() as redis_url:
        users = httpx.get(f"http://127.0.0.1:{sim}/users?per_page=1000", headers=TV_AUTH).json()
        ids = [u["id"] for u in users][:1000]
        call = round_trip(sim, ids[0])
        rows = [
            measure(mode, sim, ids, redis_url, verify_samples if mode == "verify" else samples)
            for mode in MODES
        ]
    return "\n".join(
        [
            f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. One proxy worker per "
            f"mode; the simulator's own round trip for one user read: {call * 1000:.1f} ms "
            "(p50, from a client on the same host).",
            "",
            table(
                [
                    "mode",
                    "1-member PATCH p50",
                    "p99",
                    "upstream calls per PATCH",
                    "1,000-member PATCH",
                    "its upstream calls",
                ],
                rows,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure and rewrite the section of docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--samples", type=int, default=200, help="1-member PATCHes (redis, process)"
    )
    parser.add_argument(
        "--verify-samples", type=int, default=20, help="1-member PATCHes in verify (1-2 s each)"
    )
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        print("redis-server is needed: apt-get install redis-server", file=sys.stderr)
        return 2
    text = run(args.samples, args.verify_samples)
    doc = DOC.read_text()
    start, end = f"<!-- bench:{SECTION}:start -->", f"<!-- bench:{SECTION}:end -->"
    before, found, rest = doc.partition(start)
    if not found:
        raise RuntimeError(f"docs/performance.md lacks the {start} marker")
    _, _, after = rest.partition(end)
    DOC.write_text(f"{before}{start}\n{text}\n{end}{after}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
