"""Run every benchmark on this machine and rewrite the tables in docs/performance.md.

    python -m bench.run            # needs wrk (Debian/Ubuntu: apt-get install wrk)

Everything runs on 127.0.0.1 as separate processes: the TelemetryTV simulator, the proxy
(``scim-proxy serve`` as docs/operations.md runs it), the minimal forwarder
(bench/forwarder.py, the floor) and wrk as the load. Each comparison is measured in the
same run, side by side: first the fair pair (one process each), then both with
``--workers`` processes; every cell also gives each server's CPU time per request.
``--skip import,membership`` leaves only what issue 10's targets need (about 6 minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "performance.md"
TOKEN = "bench-token"
AUTH = f"Authorization: Bearer {TOKEN}"
TV_AUTH = {"Authorization": f"Token {TOKEN}"}
SECTIONS = ("machine", "fair", "throughput", "import", "membership", "calls")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process(
    args: list[str], ready_url: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[int]:
    """Run ``args`` in ``cwd`` until the block ends; yields its pid once ``ready_url``
    answers."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(ready_url, headers=TV_AUTH, timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{args} did not start in {cwd}") from None
                time.sleep(0.1)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def simulator(port: int, users: int) -> Any:
    """The simulator with ``users`` seeded users."""
    return process(
        [
            sys.executable,
            "-m",
            "scim_proxy",
            "simulator",
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--users",
            str(users),
        ],
        f"http://127.0.0.1:{port}/users?per_page=1",
    )


def proxy(port: int, upstream: str, workers: int) -> Any:
    """``scim-proxy serve`` with default settings, as operators run it."""
    return process(
        [
            sys.executable,
            "-m",
            "scim_proxy",
            "serve",
            "--port",
            str(port),
            "--upstream",
            upstream,
            "--workers",
            str(workers),
        ],
        f"http://127.0.0.1:{port}/healthz",
    )


def forwarder(port: int, upstream: str, workers: int) -> Any:
    """The minimal forwarder."""
    return process(
        [
            sys.executable,
            "-m",
            "bench.forwarder",
            "--port",
            str(port),
            "--upstream",
            upstream,
            "--workers",
            str(workers),
        ],
        f"http://127.0.0.1:{port}/scim/v2/Users?count=1",
    )


def children_rss_peak(pid: int) -> int:
    """The largest peak RSS (VmHWM, kB) of ``pid`` and its direct children."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    peak = 0
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and its direct children (uvicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def upstream_calls(proxy_port: int) -> float:
    """Upstream attempts the proxy has made, from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{proxy_port}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("scim_proxy_upstream_calls_total{")
    )


@dataclass
class Load:
    """What wrk measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float | None = None
    """CPU time the measured server spent per request (µs), when its pid was given."""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    script: str | None = None,
    header: str = AUTH,
    pid: int | None = None,
) -> Load:
    """Run wrk against ``url`` and read requests/s and latency percentiles.

    With ``pid`` (the server measured), also its CPU time per request: unlike
    throughput, it hardly moves when other work shares the machine.
    """
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    threads = 1 if connections == 1 else 2
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", header]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors and int(errors.group(1)) > 0:
        raise RuntimeError(f"wrk saw {errors.group(1)} errors against {url}")
    cpu_us = None
    if pid is not None:
        served = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        cpu_us = (cpu_seconds(pid) - cpu_before) / max(served, 1) * 1e6
    return Load(rps, percentile("50"), percentile("99"), cpu_us)


LUA_POST = """
local n = 0
local threads = 0
prefix = tostring(os.time())
wrk.headers["Content-Type"] = "application/json"
setup = function(thread)
  threads = threads + 1
  thread:set("prefix", tostring(os.time()) .. "t" .. threads)
end
request = function()
  n = n + 1
  return wrk.format("POST", nil, nil, string.format(BODY, prefix, n))
end
"""


def lua(body_format: str, directory: Path, name: str) -> str:
    """A wrk script sending POSTs whose bodies hold a unique email."""
    path = directory / f"{name}.lua"
    quoted = body_format.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(f'local BODY = "{quoted}"\n' + LUA_POST)
    return str(path)


def lua_patch(first: str, second: str, directory: Path, name: str) -> str:
    """A wrk script sending PATCHes that alternate between two bodies (so each one writes)."""
    path = directory / f"{name}.lua"
    path.write_text(
        f"local bodies = {{[[{first}]], [[{second}]]}}\nlocal n = 0\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  n = n + 1\n"
        '  return wrk.format("PATCH", nil, nil, bodies[n % 2 + 1])\nend\n'
    )
    return str(path)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


Scenario = tuple[str, str, str, str | None, str | None]
"""name, SCIM path, TelemetryTV path, wrk scripts for the SCIM and the TelemetryTV side."""


def scenarios(sim: int, tmp: Path) -> list[Scenario]:
    """Seed the simulator for the benched operations and describe each of them."""
    users = httpx.get(f"http://127.0.0.1:{sim}/users?per_page=2", headers=TV_AUTH).json()
    user_id, email = users[1]["id"], users[1]["email"]
    group = httpx.post(
        f"http://127.0.0.1:{sim}/user-groups", headers=TV_AUTH, json={"name": "Bench 1000"}
    ).json()["id"]
    page = httpx.get(f"http://127.0.0.1:{sim}/users?per_page=1000", headers=TV_AUTH).json()
    with httpx.Client(headers=TV_AUTH) as http:
        for u in page[:1000]:
            http.patch(f"http://127.0.0.1:{sim}/users/{u['id']}", json={"user_group_ids": [group]})
    return [
        ("GET user by id", f"/scim/v2/Users/{user_id}", f"/users/{user_id}", None, None),
        (
            "userName eq filter",
            f"/scim/v2/Users?filter=userName%20eq%20%22{email}%22",
            f"/users?email={email}",
            None,
            None,
        ),
        (
            "page of 100 users",
            "/scim/v2/Users?startIndex=101&count=100",
            "/users?page=2&per_page=100",
            None,
            None,
        ),
        (
            "POST user",
            "/scim/v2/Users",
            "/users",
            lua(
                '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"p%s-%d@example.com",'
                '"name":{"givenName":"Bench","familyName":"User"},"password":"Bench-pw-1!"}',
                tmp,
                "scim_post",
            ),
            lua(
                '{"email":"d%s-%d@example.com","first_name":"Bench","last_name":"User",'
                '"password":"Bench-pw-1!"}',
                tmp,
                "tv_post",
            ),
        ),
        (
            "PATCH deactivate",
            f"/scim/v2/Users/{user_id}",
            f"/users/{user_id}",
            lua_patch(
                '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
                '"Operations":[{"op":"replace","value":{"active":false}}]}',
                '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
                '"Operations":[{"op":"replace","value":{"active":true}}]}',
                tmp,
                "scim_patch",
            ),
            lua_patch('{"disabled":true}', '{"disabled":false}', tmp, "tv_patch"),
        ),
        (
            "GET group, 1,000 members",
            f"/scim/v2/Groups/{group}",
            f"/users?user_group_id={group}&per_page=1000",
            None,
            None,
        ),
    ]


def _ms(load: Load | None) -> str:
    return "" if load is None else f"{load.p50_ms:.2f} / {load.p99_ms:.2f}"


def _cpu(load: Load) -> str:
    return "" if load.cpu_us is None else f"{load.cpu_us:,.0f}"


def throughput(
    sim: int,
    proxy_server: tuple[int, int],
    forwarder_server: tuple[int, int],
    seconds: int,
    cases: list[Scenario],
    *,
    direct: bool = True,
    rounds: int = 1,
) -> tuple[str, dict[str, Any]]:
    """The side-by-side table: proxy, forwarder (and direct); c=1 and c=32.

    ``proxy_server`` and ``forwarder_server`` are (port, pid). Besides throughput and
    latency, each server's CPU time per request is read from /proc around its run.
    With ``rounds`` > 1 each cell is measured that many times, the proxy first in one
    round and the forwarder first in the next, and each figure is the median: what
    drifts while a cell runs (the machine, the simulator's growing user list) then
    falls on both alike.
    """
    (prx, prx_pid), (fwd, fwd_pid) = proxy_server, forwarder_server
    rows = []
    raw: dict[str, Any] = {}
    for name, scim_path, tv_path, scim_script, tv_script in cases:
        for connections in (1, 32):
            measured: dict[int, list[Load]] = {prx_pid: [], fwd_pid: []}
            for done in range(rounds):
                order = [(prx, prx_pid), (fwd, fwd_pid)]
                for port, pid in order if done % 2 == 0 else order[::-1]:
                    measured[pid].append(
                        wrk(
                            f"http://127.0.0.1:{port}{scim_path}",
                            connections=connections,
                            seconds=seconds,
                            script=scim_script,
                            pid=pid,
                        )
                    )
            p, f = _median(measured[prx_pid]), _median(measured[fwd_pid])
            d = (
                wrk(
                    f"http://127.0.0.1:{sim}{tv_path}",
                    connections=connections,
                    seconds=seconds,
                    script=tv_script,
                    header=f"Authorization: Token {TOKEN}",
                )
                if direct
                else None
            )
            raw[f"{name} c{connections}"] = (p, f, d)
            rows.append(
                [
                    name,
                    str(connections),
                    f"{p.rps:,.0f}",
                    f"{f.rps:,.0f}",
                    *([f"{d.rps:,.0f}"] if d is not None else []),
                    f"{p.rps / f.rps:.0%}",
                    _ms(p),
                    _ms(f),
                    *([_ms(d)] if d is not None else []),
                    f"{p.p50_ms - f.p50_ms:+.2f}",
                    f"{_cpu(p)} / {_cpu(f)}",
                ]
            )
    headers = [
        "operation",
        "conc.",
        "proxy req/s",
        "forwarder req/s",
        *(["direct req/s"] if direct else []),
        "proxy / forwarder",
        "proxy p50 / p99 ms",
        "forwarder p50 / p99 ms",
        *(["direct p50 / p99 ms"] if direct else []),
        "p50 over forwarder (ms)",
        "CPU µs per request, proxy / forwarder",
    ]
    return table(headers, rows), raw


def _median(loads: list[Load]) -> Load:
    """Each figure's median over several runs of one cell."""
    cpu = [load.cpu_us for load in loads if load.cpu_us is not None]
    return Load(
        statistics.median(load.rps for load in loads),
        statistics.median(load.p50_ms for load in loads),
        statistics.median(load.p99_ms for load in loads),
        statistics.median(cpu) if cpu else None,
    )


def imports(workers: int) -> str:
    """A full Okta-style import (count=100) at N users: wall time, upstream calls, peak RSS."""
    rows = []
    for n in (1_000, 10_000, 50_000):
        sim, prx = free_port(), free_port()
        with simulator(sim, n - 1), proxy(prx, f"http://127.0.0.1:{sim}", workers) as pid:
            before = upstream_calls(prx)
            started = time.perf_counter()
            pages = 0
            with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http:
                start = 1
                while True:
                    body = http.get(
                        f"http://127.0.0.1:{prx}/scim/v2/Users",
                        params={"startIndex": start, "count": 100},
                    ).json()
                    pages += 1
                    start += 100
                    if start > body["totalResults"]:
                        break
            wall = time.perf_counter() - started
            calls = upstream_calls(prx) - before
            rss = children_rss_peak(pid)
        rows.append(
            [
                f"{n:,}",
                f"{pages:,}",
                f"{wall:.1f} s",
                f"{wall / pages * 1000:.1f} ms",
                f"{calls:,.0f}",
                f"{calls / pages:.2f}",
                f"{rss / 1024:.0f} MB",
            ]
        )
    return table(
        [
            "users",
            "pages",
            "wall time",
            "per page",
            "upstream calls",
            "calls per page",
            "peak RSS of a proxy process",
        ],
        rows,
    )


def membership(workers: int) -> str:
    """Adding 1,000 members in one PATCH, against one member per PATCH."""
    sim, prx = free_port(), free_port()
    with simulator(sim, 1_000), proxy(prx, f"http://127.0.0.1:{sim}", workers):
        users = httpx.get(f"http://127.0.0.1:{sim}/users?per_page=1000", headers=TV_AUTH).json()
        ids = [u["id"] for u in users][:1000]
        scim = httpx.Client(
            base_url=f"http://127.0.0.1:{prx}/scim/v2",
            timeout=120,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        one_group = scim.post("/Groups", json={"displayName": "Bulk"}).json()["id"]
        other = scim.post("/Groups", json={"displayName": "One by one"}).json()["id"]

        def patch(group: str, members: list[str]) -> None:
            response = scim.patch(
                f"/Groups/{group}",
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": m} for m in members]}
                    ],
                },
            )
            response.raise_for_status()

        before = upstream_calls(prx)
        started = time.perf_counter()
        patch(one_group, ids)
        bulk_wall = time.perf_counter() - started
        bulk_calls = upstream_calls(prx) - before
        sample = 20
        before = upstream_calls(prx)
        started = time.perf_counter()
        for member in ids[:sample]:
            patch(other, [member])
        single_wall = (time.perf_counter() - started) / sample
        single_calls = (upstream_calls(prx) - before) / sample
        scim.close()
    return table(
        ["membership change", "wall time", "upstream calls"],
        [
            ["1 PATCH adding 1,000 members", f"{bulk_wall:.1f} s", f"{bulk_calls:,.0f}"],
            [
                f"1 member per PATCH (mean of {sample}, x 1,000)",
                f"{single_wall * 1000:.0f} s",
                f"{single_calls * 1000:,.0f}",
            ],
            ["speed-up", f"{single_wall * 1000 / bulk_wall:.0f}x", ""],
        ],
    )


def calls(workers: int) -> str:
    """Upstream calls per SCIM operation, read from the proxy's own metrics."""
    sim, prx = free_port(), free_port()
    rows = []
    with simulator(sim, 250), proxy(prx, f"http://127.0.0.1:{sim}", workers):
        scim = httpx.Client(
            base_url=f"http://127.0.0.1:{prx}/scim/v2",
            timeout=60,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        users = scim.get("/Users?count=3").json()["Resources"]
        user_id, email = users[1]["id"], users[1]["userName"]
        members = [{"value": u["id"]} for u in users]
        group = scim.post("/Groups", json={"displayName": "Calls"}).json()["id"]
        patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        body = {
            "schemas": [patch_op],
            "Operations": [{"op": "add", "path": "members", "value": members}],
        }
        operations: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("GET /Users/{id}", lambda: scim.get(f"/Users/{user_id}")),
            (
                'GET /Users?filter=userName eq "..."',
                lambda: scim.get("/Users", params={"filter": f'userName eq "{email}"'}),
            ),
            (
                "GET /Users?startIndex=1&count=100",
                lambda: scim.get("/Users?startIndex=1&count=100"),
            ),
            (
                "GET /Users?startIndex=51&count=100",
                lambda: scim.get("/Users?startIndex=51&count=100"),
            ),
            (
                "POST /Users",
                lambda: scim.post(
                    "/Users",
                    json={
                        "userName": "calls@example.com",
                        "name": {"givenName": "C", "familyName": "D"},
                    },
                ),
            ),
            (
                "PATCH /Users/{id} (deactivate)",
                lambda: scim.patch(
                    f"/Users/{user_id}",
                    json={
                        "schemas": [patch_op],
                        "Operations": [{"op": "replace", "value": {"active": False}}],
                    },
                ),
            ),
            (
                "PATCH /Groups/{id} adding 3 members",
                lambda: scim.patch(f"/Groups/{group}", json=body),
            ),
            (
                "the same PATCH again (already in place)",
                lambda: scim.patch(f"/Groups/{group}", json=body),
            ),
            ("GET /Groups/{id} (3 members)", lambda: scim.get(f"/Groups/{group}")),
            (
                "GET /Groups/{id}?excludedAttributes=members",
                lambda: scim.get(f"/Groups/{group}?excludedAttributes=members"),
            ),
            ("DELETE /Groups/{id}", lambda: scim.delete(f"/Groups/{group}")),
        ]
        for name, call in operations:
            before = upstream_calls(prx)
            call().raise_for_status()
            rows.append([name, f"{upstream_calls(prx) - before:.0f}"])
        scim.close()
    return table(["SCIM operation", "upstream calls"], rows)


def machine() -> str:
    """What this machine is."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run everything and rewrite docs/performance.md between its markers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    parser.add_argument("--workers", type=int, default=2, help="proxy and forwarder workers")
    parser.add_argument(
        "--fair-rounds",
        type=int,
        default=3,
        help="runs of each fair-pair cell, alternating which server goes first (medians)",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma list of sections: fair,throughput,import,membership,calls",
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    skip = set(args.skip.split(","))
    generated: dict[str, str] = {
        "machine": f"Machine: {machine()}. Proxy and forwarder: 1 process each (the fair pair, "
        f"each cell the median of {args.fair_rounds} runs, the two servers taking turns "
        f"going first), then {args.workers} workers each; wrk {args.seconds} s per run. "
        f"Date: {time.strftime('%Y-%m-%d')}."
    }
    if "throughput" not in skip or "fair" not in skip:
        sim = free_port()
        upstream = f"http://127.0.0.1:{sim}"
        with simulator(sim, 1_000), tempfile.TemporaryDirectory() as tmp:
            cases = scenarios(sim, Path(tmp))
            # The fair pair first: one process each, so neither gets more cores.
            if "fair" not in skip:
                prx, fwd = free_port(), free_port()
                with proxy(prx, upstream, 1) as prx_pid, forwarder(fwd, upstream, 1) as fwd_pid:
                    generated["fair"], _ = throughput(
                        sim,
                        (prx, prx_pid),
                        (fwd, fwd_pid),
                        args.seconds,
                        cases,
                        direct=False,
                        rounds=args.fair_rounds,
                    )
            if "throughput" not in skip:
                prx, fwd = free_port(), free_port()
                with (
                    proxy(prx, upstream, args.workers) as prx_pid,
                    forwarder(fwd, upstream, args.workers) as fwd_pid,
                ):
                    generated["throughput"], _ = throughput(
                        sim, (prx, prx_pid), (fwd, fwd_pid), args.seconds, cases
                    )
    if "import" not in skip:
        generated["import"] = imports(args.workers)
    if "membership" not in skip:
        generated["membership"] = membership(args.workers)
    if "calls" not in skip:
        generated["calls"] = calls(args.workers)
    doc = DOC.read_text()
    for name, text in generated.items():
        if name == "machine" and "throughput" in skip and "fair" in skip:
            continue  # the machine line describes the throughput run
        start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
        before, found, rest = doc.partition(start)
        if not found:
            raise RuntimeError(f"docs/performance.md lacks the {start} marker")
        _, _, after = rest.partition(end)
        doc = f"{before}{start}\n{text}\n{end}{after}"
        print(text, end="\n\n")
    DOC.write_text(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
