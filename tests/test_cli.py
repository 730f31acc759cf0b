"""The ``scim-proxy`` command, run as a real process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scim_proxy.cli import DEMO_TOKEN
from tests.okta_spec import run_spec_test
from tests.processes import free_port, start, stop, wait_until_up


@pytest.fixture
def demo() -> Iterator[str]:
    """``scim-proxy demo`` on free ports; yields the SCIM base URL."""
    port, sim_port = free_port(), free_port()
    process = start("demo", "--port", str(port), "--simulator-port", str(sim_port))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}/scim/v2"
    finally:
        stop(process)


@pytest.mark.anyio
async def test_oktas_spec_test_passes_against_the_demo(demo: str) -> None:
    async with httpx.AsyncClient(base_url=demo, timeout=10) as client:
        steps = await run_spec_test(client, f"Bearer {DEMO_TOKEN}")
    assert steps == 12


def test_the_demo_coordinates_memberships_with_its_own_process_locks(demo: str) -> None:
    ready = httpx.get(demo.removesuffix("/scim/v2") + "/readyz", timeout=10)
    assert ready.json()["checks"]["coordination"] == "process"


def test_the_demo_prints_what_a_newcomer_needs() -> None:
    port, sim_port = free_port(), free_port()
    process = start("demo", "--port", str(port), "--simulator-port", str(sim_port))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        output = stop(process)
    assert f"http://127.0.0.1:{port}/scim/v2" in output
    assert DEMO_TOKEN in output
    assert "curl" in output


def test_the_demo_runs_one_process_when_a_file_asks_for_more_workers(tmp_path: Path) -> None:
    config = tmp_path / "workers.toml"
    config.write_text("[server]\nworkers = 2\n")
    port, sim_port = free_port(), free_port()
    process = start(
        "demo", "--config", str(config), "--port", str(port), "--simulator-port", str(sim_port)
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.json()["checks"]["coordination"] == "process"
    finally:
        output = stop(process)
    assert "server.workers = 2 from the configuration is ignored: the demo runs one process" in (
        output
    )
    assert "groups.coordination" not in output


def test_an_invalid_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[upstream]\nauth_scheme = "kerberos"\n')
    result = subprocess.run(
        [sys.executable, "-m", "scim_proxy", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "upstream.auth_scheme" in result.stderr
    assert "token, basic, bearer" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_environment_override_names_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scim_proxy", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "SCIM_PROXY_SERVER_PORT": "eighty"},
    )
    assert result.returncode == 2
    assert "SCIM_PROXY_SERVER_PORT" in result.stderr


def test_the_simulator_command_serves_the_contract() -> None:
    port = free_port()
    process = start("simulator", "--port", str(port), "--token", "sim-secret", "--users", "7")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/users", process)
        listed = httpx.get(
            f"http://127.0.0.1:{port}/users", headers={"Authorization": "Token sim-secret"}
        )
        assert listed.status_code == 200
        assert listed.headers["Total-Records-Count"] == "8"
        refused = httpx.get(
            f"http://127.0.0.1:{port}/users", headers={"Authorization": "Token other"}
        )
        assert refused.status_code == 401
    finally:
        stop(process)


def test_the_demo_writes_no_colour_codes_into_a_pipe() -> None:
    port, sim_port = free_port(), free_port()
    process = start("demo", "--port", str(port), "--simulator-port", str(sim_port))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        httpx.get(
            f"http://127.0.0.1:{port}/scim/v2/Users?count=1",
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        )
    finally:
        output = stop(process)
    assert "request" in output
    assert "\x1b[" not in output
