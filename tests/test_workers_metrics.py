"""With several uvicorn workers, /metrics counts the traffic of all of them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import free_port, start, stop, wait_until_up

TOKEN = "workers-token"


@pytest.fixture
def two_workers() -> Iterator[str]:
    """``scim-proxy serve --workers 2`` in front of a simulator; yields the proxy's URL."""
    sim_port, port = free_port(), free_port()
    simulator = start("simulator", "--port", str(sim_port), "--token", TOKEN, "--users", "3")
    proxy = None
    try:
        wait_until_up(f"http://127.0.0.1:{sim_port}/users", simulator)
        proxy = start(
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--upstream",
            f"http://127.0.0.1:{sim_port}",
            env={"SCIM_PROXY_LOGGING_LEVEL": "warning"},
        )
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proxy)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in (proxy, simulator):
            if process is not None:
                stop(process)


def _user_lists(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "scim_proxy_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.labels.get("resource") == "User"
        and sample.labels.get("operation") == "list"
    )


def test_metrics_sum_every_worker(two_workers: str) -> None:
    with httpx.Client(base_url=two_workers, timeout=10) as http:
        # New connections each time, so both workers take requests.
        for _ in range(40):
            response = httpx.get(
                f"{two_workers}/scim/v2/Users?count=1",
                headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
                timeout=10,
            )
            assert response.status_code == 200
        totals = {
            _user_lists(http.get("/metrics", headers={"Connection": "close"}).text)
            for _ in range(6)
        }
    # Whichever worker answers the scrape, it reports all 40 requests.
    assert totals == {40.0}
