"""``scim-proxy check [--write] [--json]`` as a process against a simulator process: the
report to share, the exit codes, and no token or throwaway password in any output.

The canary run is the real command in a process of its own whose password generator is
replaced by one handing out canary strings (the only way to know what to search for);
everything else is the shipped code.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, start, stop, wait_until_up

CANARY_TOKEN = "CANARY-TOKEN-0b7c4e9a11"
PASSWORD_PREFIX = "CANARY-PASSWORD"
FORBIDDEN = (
    "CANARY-TOKEN",
    PASSWORD_PREFIX,
    base64.b64encode(f"{CANARY_TOKEN}:".encode()).decode().rstrip("="),
)

# The command, with canary passwords; writes how many it handed out to argv[1].
_WRAPPER = """
import itertools, sys
import scim_proxy.account_check.command as command
from scim_proxy.cli import main

handed = []
def canary():
    handed.append(f"CANARY-PASSWORD-{len(handed)}-Zq9!xw")
    return handed[-1]

command.generate_password = canary
try:
    code = main(sys.argv[2:])
finally:
    open(sys.argv[1], "w").write(str(len(handed)))
sys.exit(code)
"""


def _simulator(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = start(
        "simulator", "--port", str(port), "--token", CANARY_TOKEN, "--users", "2", *args
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/users", process)
    return process, url


@pytest.fixture(scope="module")
def faithful() -> Iterator[str]:
    process, url = _simulator()
    yield url
    stop(process)


@pytest.fixture(scope="module")
def refusing() -> Iterator[str]:
    process, url = _simulator("--deviation", "user-update-refused,user-delete-refused")
    yield url
    stop(process)


def _state(url: str) -> tuple[object, object]:
    headers = {"Authorization": f"Token {CANARY_TOKEN}"}
    users = httpx.get(f"{url}/users?per_page=1000", headers=headers, timeout=30).json()
    groups = httpx.get(f"{url}/user-groups?per_page=1000", headers=headers, timeout=30).json()
    return users, groups


def _check(
    tmp_path: Path, url: str, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], int]:
    count = tmp_path / "passwords"
    result = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(count), "check", "--upstream", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SCIM_PROXY_CHECK_TOKEN": CANARY_TOKEN, **(env or {})},
    )
    return result, int(count.read_text())


@pytest.mark.parametrize("scheme", ["token", "basic"])
@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("account", ["faithful", "refusing"])
def test_no_token_or_password_in_any_output(
    request: pytest.FixtureRequest, tmp_path: Path, account: str, output: str, scheme: str
) -> None:
    url = request.getfixturevalue(account)
    args = ["--write", *(["--json"] if output == "json" else [])]
    env = {"SCIM_PROXY_LOGGING_LEVEL": "debug", "SCIM_PROXY_UPSTREAM_AUTH_SCHEME": scheme}
    result, handed = _check(tmp_path, url, *args, env=env)
    assert handed == 2, "the throwaway user got its password, then a new one"
    everything = result.stdout + result.stderr
    for secret in FORBIDDEN:
        assert secret not in everything
    if output == "json" or account == "refusing":
        assert "[redacted]" in result.stdout, "the passwords sent are shown, redacted"
    assert "upstream_call" in result.stderr, "log lines were written, and searched"
    if account == "refusing":
        assert "PATCH" in result.stdout, "the refused writes are shown with what was sent"


def test_json_is_one_object_with_what_a_support_ticket_needs(tmp_path: Path, faithful: str) -> None:
    before = _state(faithful)
    result, _ = _check(tmp_path, faithful, "--write", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["upstream"]["base_url"] == faithful
    assert report["scim_proxy_version"]
    assert report["exit_code"] == 0
    assert report["usable"] is True
    names = [item["name"] for item in report["items"] if item["phase"] == "write"]
    assert names[0] == "create user"
    assert names[-1] == "delete user"
    assert {item["status"] for item in report["items"] if item["phase"] == "write"} == {"PASS"}
    for item in report["items"]:
        assert set(item) == {"phase", "name", "status", "detail", "fix", "ms", "exchanges"}
    assert report["cleanup"]["left_behind"] == []
    assert report["throwaway"]["user"].startswith("scim-proxy-check-")
    assert report["throwaway"]["user"].endswith("@example.invalid")
    assert _state(faithful) == before


def test_a_refusing_account_exits_3_listing_the_user_left_behind_last(
    tmp_path: Path, refusing: str
) -> None:
    users_before, _ = _state(refusing)
    result, _ = _check(tmp_path, refusing, "--write", "--domain", "check.example.com")
    assert result.returncode == 3, result.stdout
    last = result.stdout.rstrip("\n").splitlines()[-1]
    users, _ = _state(refusing)
    [left] = [u for u in users if u not in users_before]
    assert left["email"].endswith("@check.example.com")
    assert left["id"] in last
    assert left["email"] in last
    assert "FAIL  update names" in result.stdout
    assert "refused the HTTP method" in result.stdout
    # Leave the account as found for the other tests of the module.
    httpx.delete(
        f"{refusing}/users/{left['id']}",
        headers={"Authorization": f"Token {CANARY_TOKEN}"},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "example.com"], "needs --write"),
        (["--write", "--domain", "not a domain"], "is not a domain name"),
        (["--write", "--domain", "localhost"], "is not a domain name"),
    ],
)
def test_the_domain_is_checked_before_anything_is_sent(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result, handed = _check(tmp_path, "http://127.0.0.1:9", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert handed == 0


def test_nothing_is_written_when_the_read_checks_fail(tmp_path: Path) -> None:
    process, url = _simulator("--auth-schemes", "bearer")
    try:
        result, handed = _check(tmp_path, url, "--write")
    finally:
        stop(process)
    assert result.returncode == 1
    assert "SKIPPED  create user: the read checks failed, so nothing was written" in result.stdout
    assert handed == 0


def test_a_reader_that_goes_away_stops_the_printing_not_the_clean_up(faithful: str) -> None:
    before = _state(faithful)
    check = subprocess.Popen(
        [sys.executable, "-m", "scim_proxy", "check", "--write", "--upstream", faithful],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "SCIM_PROXY_CHECK_TOKEN": CANARY_TOKEN},
    )
    assert check.stdout is not None
    assert check.stderr is not None
    assert check.stdout.readline().startswith(b"Checking ")
    check.stdout.close()  # as `| head -1` does
    with check.stderr:
        errors = check.stderr.read().decode()
    assert check.wait(timeout=120) == 0
    assert "Traceback" not in errors
    assert _state(faithful) == before
