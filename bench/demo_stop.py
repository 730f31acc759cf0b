"""How long ``scim-proxy demo`` takes to stop on Ctrl-C with nothing in flight.

Starts the demo as a real process on free ports, sends it the README's first request
(so both servers have served, and the proxy holds a pooled connection to the simulator),
waits for the answer, sends SIGINT to its process group (what Ctrl-C does), and times the
exit; the figures are the median and the largest of ``--runs`` runs. ``--python`` runs
another checkout's demo (its interpreter and working directory), for a before/after.

    python -m bench.demo_stop --runs 10
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def one_stop(python: str, cwd: Path) -> float:
    """Seconds from SIGINT to the demo's exit, one run."""
    port, sim_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            python,
            "-m",
            "scim_proxy",
            "demo",
            "--port",
            str(port),
            "--simulator-port",
            str(sim_port),
        ],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the demo did not come up") from None
                time.sleep(0.1)
        answer = httpx.get(
            f"{base}/scim/v2/Users?count=2",
            headers={"Authorization": "Bearer demo-token"},
            timeout=10,
        )
        answer.raise_for_status()
        started = time.perf_counter()
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        return time.perf_counter() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(argv: list[str] | None = None) -> int:
    """Time the demo's stop ``--runs`` times and print the median and the largest."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--python", default=sys.executable, help="interpreter to run")
    parser.add_argument("--cwd", default=".", help="checkout whose scim_proxy to run")
    args = parser.parse_args(argv)
    stops = [one_stop(args.python, Path(args.cwd)) for _ in range(args.runs)]
    print(
        f"demo stop after Ctrl-C, {args.runs} runs: median {statistics.median(stops):.2f} s, "
        f"largest {max(stops):.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
