"""SIGTERM: the proxy stops accepting, finishes the requests in flight, then exits.

Real processes on 127.0.0.1: a simulator that takes 1.5 s over every authenticated call
(so a request is surely in flight when the signal comes) and the proxy in front of it.
The waits are generous; nothing asserts how long anything took.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.processes import free_port, start, stop, wait_until_up

TOKEN = "graceful-shutdown-token"
LATENCY_MS = 1500
GRACE_SECONDS = 20  # the default server.shutdown_grace_seconds


@dataclass
class Deployment:
    simulator: subprocess.Popen[bytes]
    proxy: subprocess.Popen[bytes]
    proxy_port: int


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    sim_port, proxy_port = free_port(), free_port()
    simulator = start(
        "simulator",
        "--port",
        str(sim_port),
        "--token",
        TOKEN,
        "--users",
        "3",
        "--latency-ms",
        str(LATENCY_MS),
    )
    proxy: subprocess.Popen[bytes] | None = None
    try:
        # Unauthenticated calls skip the simulator's latency: it answers 401 at once.
        wait_until_up(f"http://127.0.0.1:{sim_port}/users", simulator)
        proxy = start(
            "serve",
            "--port",
            str(proxy_port),
            "--upstream",
            f"http://127.0.0.1:{sim_port}",
            env={"SCIM_PROXY_LOGGING_LEVEL": "info"},
        )
        wait_until_up(f"http://127.0.0.1:{proxy_port}/healthz", proxy)
        yield Deployment(simulator, proxy, proxy_port)
    finally:
        for process in (proxy, simulator):
            if process is not None:
                stop(process)


def send_request(port: int) -> socket.socket:
    """Open a connection and send a whole SCIM request on it; the answer is read later."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        (
            "GET /scim/v2/Users?count=1 HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\n"
            "Accept: application/scim+json\r\n"
            "Connection: close\r\n"
            "\r\n"
        ).encode()
    )
    return sock


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def test_sigterm_finishes_the_request_in_flight_then_exits_cleanly(
    deployment: Deployment,
) -> None:
    proxy = deployment.proxy
    with send_request(deployment.proxy_port) as in_flight:
        time.sleep(0.3)  # the proxy is now waiting on the slow simulator
        proxy.send_signal(signal.SIGTERM)

        # The listening socket closes while the process is still finishing the request.
        refused_while_running = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proxy.poll() is None:
            if refuses_connections(deployment.proxy_port):
                refused_while_running = proxy.poll() is None
                break
            time.sleep(0.05)
        assert refused_while_running, "the proxy kept accepting connections after SIGTERM"

        response = read_response(in_flight, timeout=GRACE_SECONDS + 10)
    status_line = response.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK", response[:500]
    assert b'"totalResults"' in response

    try:
        code = proxy.wait(timeout=GRACE_SECONDS + 10)
    except subprocess.TimeoutExpired:
        pytest.fail("the proxy did not exit within its grace period after SIGTERM")
    assert code == 0, f"exit status {code} after a clean drain"


def _events(output: str) -> dict[str, dict[str, object]]:
    events: dict[str, dict[str, object]] = {}
    for line in output.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            events.setdefault(str(event["event"]), event)
    return events


def test_start_up_and_shutdown_are_logged_with_the_drain(deployment: Deployment) -> None:
    proxy = deployment.proxy
    with send_request(deployment.proxy_port) as in_flight:
        time.sleep(0.3)  # the proxy is now waiting on the slow simulator
        proxy.send_signal(signal.SIGTERM)
        read_response(in_flight, timeout=GRACE_SECONDS + 10)
    output, _ = proxy.communicate(timeout=GRACE_SECONDS + 10)
    events = _events(output.decode())
    startup = events["startup"]
    assert startup["listen"] == f"127.0.0.1:{deployment.proxy_port}"
    assert str(startup["upstream_base_url"]).startswith("http://127.0.0.1:")
    assert startup["membership_coordination"] == "verify"
    assert startup["config_flags"] == ["--port", "--upstream"]
    assert "SCIM_PROXY_LOGGING_LEVEL" in startup["config_env_overrides"]  # type: ignore[operator]
    shutdown = events["shutdown"]
    assert shutdown["in_flight"] == 1
    assert shutdown["drained"] == 1
    assert shutdown["cut_off"] == 0
    assert shutdown["grace_seconds"] == GRACE_SECONDS
