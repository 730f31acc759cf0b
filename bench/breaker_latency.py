"""How fast the proxy answers once TelemetryTV is down and the breaker is open.

Starts the proxy on 127.0.0.1 with its upstream pointed at a port nobody listens on,
sends requests one after another until the breaker opens, then measures the answers
that follow (all 503 with Retry-After, no upstream call).

    python -m bench.breaker_latency --requests 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import httpx

from bench.okta_workload import free_port, serve_in_thread
from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.ops.logging import LoggingSettings, configure_logging


def main(argv: list[str] | None = None) -> int:
    """Measure and print the latency of answers while the breaker is open."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    configure_logging(LoggingSettings(level="error"))
    dead = free_port()  # nothing listens here: connections are refused
    settings = Settings().replace(
        "upstream",
        base_url=f"http://127.0.0.1:{dead}",
        breaker_failures=5,
        breaker_cooldown_seconds=600,
        retry_initial_backoff_seconds=0.01,
        retry_max_backoff_seconds=0.05,
    )
    port = free_port()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    with (
        serve_in_thread(create_app(settings), port),
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}/scim/v2",
            headers={"Authorization": "Bearer any-token"},
        ) as client,
    ):
        opened = False
        for _ in range(args.requests + 50):
            started = time.perf_counter()
            response = client.get("/Users/abc")
            elapsed = (time.perf_counter() - started) * 1000
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if "paused" in response.json().get("detail", ""):
                opened = True
                latencies.append(elapsed)
            if opened and len(latencies) >= args.requests:
                break
    if not latencies:
        print("the breaker never opened")
        return 1
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"statuses: {statuses}")
    print(
        f"answers with the breaker open: {len(latencies)}; "
        f"p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms"
    )
    return 0 if p99 < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
