"""Every command exits quietly when its standard output's reader goes away (``| head -2``)
and on Ctrl-C: no traceback, and the conventional exit codes (141 as a process killed by
SIGPIPE would, 130 for SIGINT; ``check`` keeps its own, documented codes).

Real processes on 127.0.0.1, stopped by themselves or by the test; the timeouts only guard
against a hang.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, wait_until_up

INTERRUPTED, CLOSED_STDOUT = 130, 141
HANG_GUARD = 30.0


def launch(*args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """The command in a process group of its own, as a shell runs a job: Ctrl-C reaches
    every process of it (a supervisor's workers too), and the test can stop them all."""
    return subprocess.Popen(
        [sys.executable, "-m", "scim_proxy", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
        start_new_session=True,
    )


def kill_all(process: subprocess.Popen[bytes]) -> None:
    """After a hang: kill the whole group, whose members may hold the pipes open."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=HANG_GUARD)


def read_line(process: subprocess.Popen[bytes]) -> bytes:
    """One line of the process's stdout (a guard against a hang, not a time limit)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], HANG_GUARD)
    assert ready, "no output"
    return process.stdout.readline()


def close_reader(process: subprocess.Popen[bytes]) -> None:
    """What ``head`` does once it has its lines: close the pipe's reading end."""
    assert process.stdout is not None
    process.stdout.close()


def finish(process: subprocess.Popen[bytes], given: bytes | None = None) -> tuple[int, str]:
    """The exit code and stderr of a process expected to stop by itself (``given`` on
    its stdin)."""
    try:
        _, err = process.communicate(given, timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        kill_all(process)
        raise AssertionError("the process did not stop") from None
    return process.returncode, err.decode(errors="replace")


def interrupt(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """Ctrl-C: SIGINT to the job's process group, then the exit code, stdout and stderr."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        out, err = process.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        kill_all(process)
        raise AssertionError("the process did not stop on SIGINT") from None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


@pytest.fixture
def simulator() -> Iterator[str]:
    port = free_port()
    process = launch("simulator", "--port", str(port), "--users", "2")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/users", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        interrupt(process)


def scim_request(port: int) -> None:
    """A request whose request event is logged at info (probes are debug)."""
    httpx.get(f"http://127.0.0.1:{port}/scim/v2/ServiceProviderConfig", timeout=10)


# -- a closed pipe ----------------------------------------------------------------------


def test_serve_stops_quietly_when_its_log_reader_goes_away(simulator: str) -> None:
    port = free_port()
    process = launch("serve", "--port", str(port), "--upstream", simulator)
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    assert b'"startup"' in read_line(process)
    close_reader(process)
    scim_request(port)  # its request event finds the reader gone: serve drains and stops
    code, stderr = finish(process)
    assert code == CLOSED_STDOUT
    assert_quiet(stderr)


def test_serve_with_workers_stops_quietly_too(simulator: str, tmp_path: Path) -> None:
    port = free_port()
    process = launch("serve", "--port", str(port), "--upstream", simulator, "--workers", "2")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        assert b'"startup"' in read_line(process)
        close_reader(process)
        for _ in range(4):  # whichever worker answers finds the reader gone
            try:
                scim_request(port)
            except httpx.HTTPError:
                break
    finally:
        code, stderr = finish(process)
    assert code == CLOSED_STDOUT
    assert_quiet(stderr)


def test_the_demo_stops_quietly_when_its_reader_goes_away() -> None:
    port, sim_port = free_port(), free_port()
    process = launch("demo", "--port", str(port), "--simulator-port", str(sim_port))
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    assert b"scim-proxy demo" in read_line(process)
    close_reader(process)
    scim_request(port)
    code, stderr = finish(process)
    assert code == CLOSED_STDOUT
    assert_quiet(stderr)


def test_the_simulator_stops_quietly_when_its_reader_goes_away() -> None:
    port = free_port()
    process = launch("simulator", "--port", str(port), "--log-requests")
    wait_until_up(f"http://127.0.0.1:{port}/users", process)
    read_line(process)  # its banner
    close_reader(process)
    httpx.get(f"http://127.0.0.1:{port}/users", timeout=10)  # printed: the reader is gone
    code, stderr = finish(process)
    assert code == CLOSED_STDOUT
    assert_quiet(stderr)


def test_token_sha256_exits_quietly_into_a_closed_pipe() -> None:
    process = launch("token-sha256", stdin=subprocess.PIPE)
    close_reader(process)
    code, stderr = finish(process, b"a-token-3f9a\n")
    assert code == CLOSED_STDOUT
    assert_quiet(stderr)


def test_check_reads_on_and_keeps_its_exit_code_when_its_reader_goes_away(
    simulator: str,
) -> None:
    process = launch("check", "--upstream", simulator, "--token", "demo-token")
    read_line(process)
    read_line(process)
    close_reader(process)  # | head -2
    code, stderr = finish(process)
    assert code == 0  # the account passed: check's own code, documented
    assert_quiet(stderr)


# -- Ctrl-C -----------------------------------------------------------------------------


def test_serve_drains_and_exits_130_on_ctrl_c(simulator: str) -> None:
    port = free_port()
    process = launch("serve", "--port", str(port), "--upstream", simulator)
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    code, stdout, stderr = interrupt(process)
    assert code == INTERRUPTED
    assert '"shutdown"' in stdout
    assert_quiet(stderr)


def test_the_demo_says_it_stopped_and_exits_130_on_ctrl_c() -> None:
    port, sim_port = free_port(), free_port()
    process = launch("demo", "--port", str(port), "--simulator-port", str(sim_port))
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    scim_request(port)
    code, stdout, stderr = interrupt(process)
    assert code == INTERRUPTED
    assert stdout.rstrip().splitlines()[-1] == (
        "scim-proxy demo stopped (Ctrl-C): the proxy and the simulator are down"
    )
    assert_quiet(stderr)


def test_the_simulator_exits_130_on_ctrl_c() -> None:
    port = free_port()
    process = launch("simulator", "--port", str(port))
    wait_until_up(f"http://127.0.0.1:{port}/users", process)
    code, _, stderr = interrupt(process)
    assert code == INTERRUPTED
    assert_quiet(stderr)


def _blocked_reading_stdin(process: subprocess.Popen[bytes]) -> bool:
    """Whether the process sits in read(0, ...) (Linux: /proc/PID/syscall)."""
    try:
        fields = Path(f"/proc/{process.pid}/syscall").read_text().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] == "0" and int(fields[1], 16) == 0


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="reads /proc/PID/syscall")
def test_token_sha256_exits_130_on_ctrl_c_while_waiting_for_the_token() -> None:
    process = launch("token-sha256", stdin=subprocess.PIPE)
    deadline = time.monotonic() + HANG_GUARD
    while not _blocked_reading_stdin(process):  # in main, waiting: not still importing
        assert process.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, stdout, stderr = interrupt(process)
    assert code == INTERRUPTED
    assert stdout == ""
    assert_quiet(stderr)


def test_check_exits_130_on_ctrl_c(simulator: str) -> None:
    process = launch("check", "--write", "--upstream", simulator, "--token", "demo-token")
    read_line(process)  # "Checking ...": the check runs, its signal handlers are in place
    code, stdout, stderr = interrupt(process)
    assert code == INTERRUPTED
    assert "Interrupted by SIGINT" in stdout
    assert_quiet(stderr)
