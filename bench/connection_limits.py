"""What unauthenticated connections cost, and what guarding them costs the requests.

    python -m bench.connection_limits                  # every variant, every part
    python -m bench.connection_limits --variants guarded,httptools --parts attacks

Each variant serves the proxy app in its own process on 127.0.0.1, in front of the
simulator, with uvicorn and uvloop as ``scim-proxy serve`` runs it; only the HTTP protocol
differs:

- ``httptools``: uvicorn's httptools protocol alone (what ``serve`` ran before);
- ``guarded``: the same behind ``scim_proxy/connections.py`` (what ``serve`` runs now);
- ``h11``: uvicorn's h11 protocol with ``h11_max_incomplete_event_size`` = 16 KiB;
- ``granian`` (only when installed: ``pip install granian``): the Rust server, one worker,
  ``--http1-buffer-size 16384 --http1-header-read-timeout 5000``, uvloop.

Parts:

- ``load``: wrk, 16 connections for ``--seconds``, on ``/healthz`` (the HTTP layer alone)
  and on ``GET /scim/v2/Users/{id}`` (one upstream call): requests/s and the proxy
  process's CPU time per request;
- ``attacks``: 8 connections sending an endless header block for ``--seconds`` (the
  proxy's peak RSS growth, the bytes it took in, its CPU time); then 500 connections each
  sending part of a header block and nothing more, counted still open after 8 s (more
  than the 5 s header timeout), with the process's RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from bench.run import cpu_seconds, free_port, process, simulator, wrk

TOKEN = "bench-token"
VARIANTS = ("httptools", "guarded", "h11", "granian")


def granian_app() -> object:
    """The proxy app for granian (``--factory``), its upstream from ``BENCH_UPSTREAM``."""
    from scim_proxy.http.app import create_app
    from scim_proxy.ops.config import LoggingSettings, Settings
    from scim_proxy.ops.logging import configure_logging

    configure_logging(LoggingSettings(level="warning"))
    return create_app(Settings().replace("upstream", base_url=os.environ["BENCH_UPSTREAM"]))


def serve(variant: str, port: int, upstream: str) -> None:
    """Run the proxy app with ``variant``'s protocol (in a process of its own)."""
    if variant == "granian":
        os.environ["BENCH_UPSTREAM"] = upstream
        os.execvp(  # noqa: S606 - the bench's own server, its arguments fixed here
            "granian",
            [
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--loop",
                "uvloop",
                "--http",
                "1",
                "--no-ws",
                "--http1-buffer-size",
                "16384",
                "--http1-header-read-timeout",
                "5000",
                "--log-level",
                "warning",
                "bench.connection_limits:granian_app",
            ],
        )
    import uvicorn

    from scim_proxy.http.app import create_app
    from scim_proxy.ops.config import LoggingSettings, Settings
    from scim_proxy.ops.logging import configure_logging
    from scim_proxy.serving import freeze_startup_objects, uvicorn_config

    settings = Settings().replace("upstream", base_url=upstream)
    configure_logging(LoggingSettings(level="warning"))
    app = create_app(settings)
    if variant == "guarded":
        config = uvicorn_config(app, "127.0.0.1", port, settings)
    else:
        extra = {"h11_max_incomplete_event_size": 16_384} if variant == "h11" else {}
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http=variant,  # type: ignore[arg-type]
            access_log=False,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
            timeout_keep_alive=5,
            **extra,  # type: ignore[arg-type]
        )
    freeze_startup_objects()
    uvicorn.Server(config).run()


def base_of(port: int) -> str:
    """The URL of a server on 127.0.0.1."""
    return f"http://127.0.0.1:{port}"


def rss_kib(pid: int) -> int:
    """Resident memory (KiB) of ``pid`` and its direct children (a server's workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if int(entry.name) != pid and parent != pid:
                continue
            status = (entry / "status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total


async def endless_headers(port: int, seconds: float, pid: int) -> tuple[int, int, str]:
    """8 connections writing header lines until refused or ``seconds`` pass: the peak RSS
    growth (KiB), the bytes the server took in, and how the connections ended."""
    base, peak, sent = rss_kib(pid), 0, 0
    line = b"X-Filler: " + b"a" * 4000 + b"\r\n"
    ends: dict[str, int] = {}

    async def one() -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answered = asyncio.create_task(reader.read(200))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n")
        ended = "still open"
        stop = time.monotonic() + seconds
        try:
            # Written until the server answers (or hangs up): what it took in before.
            while time.monotonic() < stop and not answered.done():
                writer.write(line)
                await writer.drain()
                sent += len(line)
        except ConnectionError:
            ended = "closed by the server"
        try:
            answer = await asyncio.wait_for(answered, 1)
            if answer:
                ended = answer.split(b"\r\n", 1)[0].decode()
        except (TimeoutError, ConnectionError):
            pass
        ends[ended] = ends.get(ended, 0) + 1
        writer.close()

    async def watch() -> None:
        nonlocal peak
        stop = time.monotonic() + seconds + 1
        while time.monotonic() < stop:
            peak = max(peak, rss_kib(pid) - base)
            await asyncio.sleep(0.05)

    await asyncio.gather(watch(), *(one() for _ in range(8)))
    return peak, sent, ", ".join(f"{n}: {what}" for what, n in sorted(ends.items()))


async def slow_headers(port: int, pid: int, count: int = 500) -> tuple[int, int, str]:
    """``count`` connections sending half a header block: still open after 8 s, the RSS
    growth (KiB) while they were, and what the server answered."""
    base = rss_kib(pid)
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n")
        opened.append((reader, writer))
    grown = rss_kib(pid) - base
    await asyncio.sleep(8)
    still_open, answers = 0, {}
    for reader, writer in opened:
        try:
            data = await asyncio.wait_for(reader.read(100), 0.01)
        except TimeoutError:
            data = None
        if data is None:
            still_open += 1
        else:
            status = data.split(b"\r\n", 1)[0].decode() or "closed"
            answers[status] = answers.get(status, 0) + 1
        writer.close()
    return still_open, grown, ", ".join(f"{n}: {s}" for s, n in sorted(answers.items())) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--parts", default="load,attacks")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--serve", nargs=3, metavar=("VARIANT", "PORT", "UPSTREAM"))
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return
    variants = args.variants.split(",")
    parts = args.parts.split(",")
    sim_port = free_port()
    rows_load, rows_attack = [], []
    with simulator(sim_port, 10):
        upstream = f"http://127.0.0.1:{sim_port}"
        users = httpx.get(f"{upstream}/users", headers={"Authorization": f"Token {TOKEN}"})
        user_id = users.json()[0]["id"]
        for variant in variants:
            command = [sys.executable, "-m", "bench.connection_limits", "--serve", variant]
            if "load" in parts:
                port = free_port()
                with process([*command, str(port), upstream], f"{base_of(port)}/healthz") as pid:
                    base = base_of(port)
                    health = wrk(f"{base}/healthz", connections=16, seconds=args.seconds, pid=pid)
                    read = wrk(
                        f"{base}/scim/v2/Users/{user_id}",
                        connections=16,
                        seconds=args.seconds,
                        pid=pid,
                    )
                rows_load.append(
                    f"| {variant} | {health.rps:,.0f} | {health.cpu_us:.0f} "
                    f"| {read.rps:,.0f} | {read.cpu_us:.0f} |"
                )
            if "attacks" in parts:
                # A fresh process for each attack: memory one frees is not the other's.
                port = free_port()
                with process([*command, str(port), upstream], f"{base_of(port)}/healthz") as pid:
                    cpu = cpu_seconds(pid)
                    grown, sent, ends = asyncio.run(endless_headers(port, args.seconds, pid))
                    cpu = cpu_seconds(pid) - cpu
                port = free_port()
                with process([*command, str(port), upstream], f"{base_of(port)}/healthz") as pid:
                    still_open, slow_grown, answers = asyncio.run(slow_headers(port, pid))
                rows_attack.append(
                    f"| {variant} | {grown / 1024:,.1f} | {sent / 1048576:,.1f} | {cpu:.2f} "
                    f"| {ends} | {still_open} | {slow_grown / 1024:,.1f} | {answers} |"
                )
    if rows_load:
        print("| protocol | /healthz req/s | CPU µs/req | GET /Users/{id} req/s | CPU µs/req |")
        print("|---|---:|---:|---:|---:|")
        print("\n".join(rows_load))
        print()
    if rows_attack:
        print(
            "| protocol | 8 endless headers: peak RSS growth (MiB) | sent (MiB) | CPU (s) "
            "| how they ended | 500 slow headers: open after 8 s | RSS growth (MiB) "
            "| answered |"
        )
        print("|---|---:|---:|---:|---|---:|---:|---|")
        print("\n".join(rows_attack))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
