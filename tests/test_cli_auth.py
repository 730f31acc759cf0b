"""The allowlist from the command line: ``token-sha256``, ``check``, ``serve`` behind a proxy."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import httpx
import pytest

from tests.processes import free_port, start, stop, wait_until_up

TOKEN = "cli-token-4b1d"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scim_proxy", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_token_sha256_reads_the_token_from_stdin() -> None:
    result = run("token-sha256", stdin=f"{TOKEN}\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == DIGEST


def test_token_sha256_never_takes_the_token_from_the_command_line() -> None:
    result = run("token-sha256", TOKEN)
    assert result.returncode == 2
    assert DIGEST not in result.stdout
    assert run("token-sha256", stdin="").returncode == 2


def test_token_sha256_says_to_leave_off_an_authorization_scheme() -> None:
    result = run("token-sha256", stdin=f"Bearer {TOKEN}\n")
    assert result.returncode == 2
    assert "without the 'Bearer ' prefix" in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_check_says_whether_the_allowlist_is_set_and_holds_the_token() -> None:
    port = free_port()
    simulator = start("simulator", "--port", str(port), "--token", TOKEN, "--users", "2")
    upstream = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{upstream}/users", simulator)
        empty = run("check", "--token", TOKEN, "--upstream", upstream)
        other = hashlib.sha256(b"another").hexdigest()
        refusing = run(
            "check",
            "--token",
            TOKEN,
            "--upstream",
            upstream,
            env={"SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": other},
        )
        allowing = run(
            "check",
            "--token",
            TOKEN,
            "--upstream",
            upstream,
            env={"SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": f"{other},{DIGEST}"},
        )
    finally:
        stop(simulator)
    assert empty.returncode == 0, empty.stdout
    assert "WARN  token allowlist (auth.allowed_token_sha256): empty" in empty.stdout
    assert "scim-proxy token-sha256" in empty.stdout
    assert refusing.returncode == 1
    assert "FAIL  token allowlist" in refusing.stdout
    assert "not this one" in refusing.stdout
    assert allowing.returncode == 0
    assert "PASS  token allowlist (auth.allowed_token_sha256): 2 token(s)" in allowing.stdout
    for result in (empty, refusing, allowing):
        assert DIGEST not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("trusted", "statuses"),
    [
        # The forwarded address counts: the fourth request, from another address, is let in.
        ("127.0.0.1", [401, 401, 429, 401]),
        # No proxy trusted (uvicorn's own default of 127.0.0.1 must not apply either):
        # every request is the peer's, 127.0.0.1, whatever the header says.
        ("", [401, 401, 429, 429]),
    ],
)
def test_serve_takes_the_client_address_from_trusted_proxies_only(
    trusted: str, statuses: list[int]
) -> None:
    port = free_port()
    process = start(
        "serve",
        "--port",
        str(port),
        "--upstream",
        "http://127.0.0.1:9",
        env={
            "SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": DIGEST,
            "SCIM_PROXY_AUTH_FAILURE_LIMIT": "2",
            "SCIM_PROXY_AUTH_TRUSTED_PROXIES": trusted,
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", process)

        def status(address: str) -> int:
            headers = {"Authorization": "Bearer guess", "X-Forwarded-For": f"1.2.3.4, {address}"}
            return httpx.get(f"{base}/scim/v2/Users", headers=headers, timeout=10).status_code

        seen = [status("203.0.113.5") for _ in range(3)] + [status("198.51.100.7")]
    finally:
        stop(process)
    assert seen == statuses
