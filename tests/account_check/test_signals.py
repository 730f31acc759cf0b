"""Real SIGINT and SIGTERM to ``scim-proxy check --write``, a process on 127.0.0.1 talking to
a simulator process: whenever the signal comes, nothing is left behind, or it is listed.

The test watches the simulator's request lines (``--log-requests``: one per request, as it
arrives) and signals the check when its Nth write arrives. With ``--latency-ms`` the
write is then surely still in flight; without, the signal may land anywhere around it.
Either way the account must end as it began.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.processes import free_port, start, stop, wait_until_up

TOKEN = "signal-test-token"
WRITES = ("POST ", "PATCH ", "DELETE ")
GUARD = 60.0
"""Seconds before a test that waits for a line gives up (a hang guard, not a measurement)."""


class Simulator:
    """``scim-proxy simulator --log-requests`` as a process, its lines read in a thread."""

    def __init__(self, *args: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.process = start(
            "simulator", "--port", port, "--token", TOKEN, "--users", "2", "--log-requests", *args
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        wait_until_up(f"{self.url}/users", self.process)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))

    def wait_for_write(self, method: str | None = None) -> str:
        """The next write request line (of ``method``, if given) to arrive."""
        while True:
            line = self.lines.get(timeout=GUARD)
            if line.startswith(WRITES) and (method is None or line.startswith(method + " ")):
                return line

    def state(self) -> tuple[list[Any], list[Any]]:
        """Every user and group the account holds, as its API shows them."""
        headers = {"Authorization": f"Token {TOKEN}"}
        users = httpx.get(f"{self.url}/users?per_page=1000", headers=headers, timeout=GUARD)
        groups = httpx.get(f"{self.url}/user-groups?per_page=1000", headers=headers, timeout=GUARD)
        return users.json(), groups.json()

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture
def fast() -> Iterator[Simulator]:
    sim = Simulator()
    yield sim
    sim.stop()


@pytest.fixture
def slow() -> Iterator[Simulator]:
    sim = Simulator("--latency-ms", "200")
    yield sim
    sim.stop()


def _check(sim: Simulator) -> subprocess.Popen[bytes]:
    return start("check", "--write", "--upstream", sim.url, "--token", TOKEN)


def _finish(check: subprocess.Popen[bytes]) -> str:
    output, _ = check.communicate(timeout=GUARD)
    text = output.decode(errors="replace")
    assert "Traceback" not in text, text
    return text


@pytest.mark.parametrize(
    ("write", "signum"),
    [(1, signal.SIGINT), (3, signal.SIGTERM), (7, signal.SIGINT), (9, signal.SIGTERM)],
)
def test_a_signal_at_a_write_in_flight_leaves_nothing_behind(
    slow: Simulator, write: int, signum: signal.Signals
) -> None:
    before = slow.state()
    check = _check(slow)
    for _ in range(write):
        slow.wait_for_write()
    check.send_signal(signum)
    output = _finish(check)
    assert check.returncode == 128 + signum, output
    assert slow.state() == before
    assert f"Interrupted by {signum.name}" in output
    assert "Clean-up: nothing left behind" in output


@pytest.mark.parametrize(("write", "signum"), [(2, signal.SIGTERM), (10, signal.SIGINT)])
def test_a_signal_anywhere_around_a_write_leaves_nothing_behind(
    fast: Simulator, write: int, signum: signal.Signals
) -> None:
    before = fast.state()
    check = _check(fast)
    for _ in range(write):
        fast.wait_for_write()
    check.send_signal(signum)
    output = _finish(check)
    # The signal may come after the last write: then the check has finished (exit 0).
    assert check.returncode in (0, 128 + signum), output
    assert fast.state() == before


def test_a_second_signal_stops_the_clean_up_and_the_last_lines_list_what_is_left(
    slow: Simulator,
) -> None:
    before_users, before_groups = slow.state()
    check = _check(slow)
    for _ in range(8):  # ... create group, rename group (in flight)
        slow.wait_for_write()
    check.send_signal(signal.SIGINT)
    slow.wait_for_write("DELETE")  # the clean-up removing the group (groups go first)
    check.send_signal(signal.SIGINT)
    output = _finish(check)
    assert check.returncode == 3, output
    users, groups = slow.state()
    extra = [u["id"] for u in users if u not in before_users]
    extra += [g["id"] for g in groups if g not in before_groups]
    last = output.rstrip("\n").splitlines()
    listed = last[last.index(next(line for line in last if line.startswith("LEFT BEHIND"))) + 1 :]
    assert len(listed) == 2, output
    [user_line] = [line for line in listed if line.startswith("  user id ")]
    [left_user] = [u for u in users if u not in before_users]
    assert left_user["id"] in user_line
    assert left_user["email"] in user_line
    assert "second SIGINT" in user_line
    # The group's delete was in flight: it is listed as perhaps gone, and is listed if there.
    [group_line] = [line for line in listed if line.startswith("  group id ")]
    assert "may be gone" in group_line
    for object_id in extra:
        assert object_id in "\n".join(listed)
