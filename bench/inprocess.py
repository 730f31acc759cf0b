"""The proxy's own CPU per request, in-process: no server, no sockets, a replayed upstream.

    python -m bench.inprocess                 # CPU µs per request, proxy and forwarder
    python -m bench.inprocess --profile get   # cProfile of one operation (proxy only)
    python -m bench.inprocess --tracing       # the proxy exporting traces (default sampler)

Both apps (the proxy with default settings, bench/forwarder.py) are called as ASGI apps
directly, their upstream calls answered by one replaying transport: each distinct upstream
request is sent once to the TelemetryTV simulator (in-process) and its answer replayed
afterwards, so the simulator's own cost stays out of the figures. What is left is each
app's own work plus httpx's model layer; uvicorn, aiohttp and the kernel are not in it,
which is why the ratios here are lower than bench/run.py's: read the difference in µs.
Figures are process CPU time (``time.process_time``), best of ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import orjson

TOKEN = "bench-token"
UPSTREAM = "http://telemetrytv.bench"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Body(httpx.AsyncByteStream):
    """A replayed body, streamed as a network transport streams it (read by the caller)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> Any:
        yield self.body


class Replay(httpx.AsyncBaseTransport):
    """Sends each distinct request to the simulator once, then replays its answer.

    The answer comes as a stream, as from aiohttp's transport, so that each app's reading
    of the body is in its figures.
    """

    def __init__(self, simulator: Any) -> None:
        self.inner = httpx.ASGITransport(app=simulator)
        self.cache: dict[tuple[str, str], tuple[int, list[tuple[bytes, bytes]], bytes]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, str(request.url))
        if request.method == "POST":
            key = (request.method, request.url.path)
        hit = self.cache.get(key)
        if hit is None:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            hit = (response.status_code, list(response.headers.raw), body)
            self.cache[key] = hit
        status, headers, body = hit
        return httpx.Response(status, headers=headers, stream=Body(body), request=request)


async def call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request through ``app`` as uvicorn would send it; its status and body."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path.replace("%20", " ").replace("%22", '"'),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"user-agent", b"Okta SCIM Client 1.0.0"),
            (b"content-type", b"application/scim+json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def build(users: int, tracing: bool = False) -> tuple[Any, Any]:
    """The proxy, the forwarder (both on one replaying upstream) and the operations."""
    os.environ["FORWARDER_UPSTREAM"] = UPSTREAM
    from bench import forwarder
    from scim_proxy.http.app import create_app
    from scim_proxy.ops.config import Settings
    from scim_proxy.ops.logging import configure_logging
    from scim_proxy.ops.tracing import start_tracing
    from scim_proxy.simulator import SimulatorSettings, create_simulator_app

    # The request events are written as in production, then discarded.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open for the life of the run)
    configure_logging()
    simulator = create_simulator_app(SimulatorSettings(token=TOKEN, users=users))
    replay = Replay(simulator)
    forwarder.UPSTREAM = UPSTREAM
    forwarder.http = httpx.AsyncClient(transport=replay)
    settings = Settings().replace("upstream", base_url=UPSTREAM)
    # With --tracing, OTEL_EXPORTER_OTLP_ENDPOINT points at bench/otlp_sink.py (its own
    # process): the spans' export, in the SDK's thread, counts in this process's CPU.
    proxy = create_app(
        settings, upstream_transport=replay, tracing=start_tracing(settings) if tracing else None
    )
    return proxy, forwarder.app


def main(argv: list[str] | None = None) -> int:
    """Measure (or profile) each operation in both apps."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default=None, help="get, eq, page, post")
    parser.add_argument(
        "--tracing", action="store_true", help="export traces to a local collector stand-in"
    )
    args = parser.parse_args(argv)
    if not args.tracing:
        return asyncio.run(_main(args))
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.otlp_sink", "--port", str(port)])
    try:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
        # Room for every span of a round: none dropped, so all of them are paid for.
        os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", "100000")
        return asyncio.run(_main(args))
    finally:
        sink.terminate()
        sink.wait()


async def _main(args: argparse.Namespace) -> int:
    proxy, fwd = build(300, tracing=args.tracing)
    status, body = await call(proxy, "GET", "/scim/v2/Users?count=2")
    user = orjson.loads(body)["Resources"][1]
    user_id, email = user["id"], user["userName"]
    post = (
        b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"p1@example.com",'
        b'"name":{"givenName":"Bench","familyName":"User"},"password":"Bench-pw-1!"}'
    )
    ops: dict[str, tuple[str, str, bytes]] = {
        "get": ("GET", f"/scim/v2/Users/{user_id}", b""),
        "eq": ("GET", f"/scim/v2/Users?filter=userName%20eq%20%22{email}%22", b""),
        "page": ("GET", "/scim/v2/Users?startIndex=101&count=100", b""),
        "post": ("POST", "/scim/v2/Users", post),
    }
    # Warm both apps (and fill the replay) before measuring.
    for method, path, body in ops.values():
        for app in (proxy, fwd):
            for _ in range(3):
                status, out = await call(app, method, path, body)
                assert status < 300, (app, path, status, out[:300])
    if args.profile:
        method, path, body = ops[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            await call(proxy, method, path, body)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(45)
        sys.__stdout__.write(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
        sys.__stdout__.write(out.getvalue())
        return 0
    sys.__stdout__.write("operation: CPU µs per request, proxy / forwarder (extra)\n")
    for name, (method, path, body) in ops.items():
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for label, app in (("proxy", proxy), ("forwarder", fwd)):
                started = time.process_time()
                for _ in range(args.requests):
                    await call(app, method, path, body)
                if app is proxy and proxy.tracing is not None:
                    # The spans' export, counted with the requests that made them.
                    proxy.tracing.force_flush()
                per = (time.process_time() - started) / args.requests * 1e6
                best[label] = min(best.get(label, per), per)
        sys.__stdout__.write(
            f"{name:5}: {best['proxy']:7.1f} / {best['forwarder']:7.1f} "
            f"(+{best['proxy'] - best['forwarder']:.1f})\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
