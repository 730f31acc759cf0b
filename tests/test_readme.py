"""The README's Quick start commands work exactly as written, against the demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, start, stop, wait_until_up

README = (Path(__file__).parents[1] / "README.md").read_text()
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def _quick_start_commands() -> str:
    """The shell block a newcomer pastes "in another terminal" while the demo runs."""
    after = README.split("another terminal:", 1)[1]
    match = re.search(r"```sh\n(.*?)```", after, re.DOTALL)
    assert match, "the Quick start's curl block is missing"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's commands use curl")
def test_the_quick_start_curl_commands_work_against_the_demo() -> None:
    commands = _quick_start_commands()
    assert "127.0.0.1:8080" in commands
    port, sim_port = free_port(), free_port()
    demo = start("demo", "--port", str(port), "--simulator-port", str(sim_port))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", demo)
        script = commands.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        result = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        )
    finally:
        stop(demo)
    assert result.returncode == 0, result.stderr
    assert ERROR_SCHEMA not in result.stdout, result.stdout
    created = re.search(r"created user (\S+)", result.stdout)
    assert created, result.stdout
    assert '"active":false' in result.stdout
    assert '"displayName":"Sales EMEA"' in result.stdout
    assert '"totalResults":1' in result.stdout
    # Pasted into a terminal, each answer is a line of its own: every curl that prints
    # one ends it with a newline (the one whose answer becomes $ID is echoed instead).
    lines = result.stdout.splitlines()
    assert len(lines) == commands.count("curl "), result.stdout
    for line in lines:
        assert line.startswith("created user ") or isinstance(json.loads(line), dict), line


def test_the_other_commands_run_as_written_once_the_venv_is_on_path() -> None:
    """`. .venv/bin/activate` puts `scim-proxy` on PATH; the README's commands then run."""
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "scim-proxy").exists()
    for command in ("--version", "serve --help", "check --help", "simulator --help"):
        result = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-c", f"scim-proxy {command}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
        )
        assert result.returncode == 0, (command, result.stderr)


def _before_going_live_blocks() -> list[str]:
    section = README.split("## Before going live", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def test_the_write_check_against_a_deviating_simulator_runs_as_written() -> None:
    """The simulator command, then "in another terminal" the check, exactly as written."""
    real_account, simulator_command, check_command = _before_going_live_blocks()
    assert "check --write --token" in real_account
    assert simulator_command.startswith("scim-proxy simulator --deviation ")
    assert "http://127.0.0.1:8081" in check_command
    port = free_port()
    simulator = start(*simulator_command.split()[1:], "--port", str(port))
    bin_dir = Path(sys.executable).parent
    try:
        wait_until_up(f"http://127.0.0.1:{port}/users", simulator)
        result = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-c", check_command.replace("8081", str(port))],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        )
    finally:
        stop(simulator)
    assert result.returncode == 1, result.stdout + result.stderr
    promised = re.search(r"It exits 1 with `(FAIL .*?)`", README, re.DOTALL)
    assert promised
    assert " ".join(promised.group(1).split()) in " ".join(result.stdout.split())
    assert "Clean-up: nothing left behind" in result.stdout
