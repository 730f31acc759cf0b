"""What a large PATCH costs: CPU per operation, and what the event loop does meanwhile.

    python -m bench.patch_apply               # every part
    python -m bench.patch_apply --part cpu    # only the CPU per operation

Three parts, all in-process (no sockets), each figure the best of ``--repeat`` rounds:

- ``cpu``: reading (scim2-models' validation) and applying PATCHes of growing size to a
  user, as the proxy's read path does (``read_patch_in_slices``, then
  ``apply_patch_in_slices`` on the user as read). Shapes the limits accept: plain
  replaces, and a mix of 100 ``emails`` adds and removes (``scim.max_attribute_values``)
  with replaces. Linear: the cost per operation
  stays flat as the size grows.
- ``unbounded``: the same reading and applying of ``add emails`` operations alone, the
  shape of the security review's 12,000-operation PATCH, for sizes the limit now refuses
  (above 100 values). scim2-models checks each added value against every value already
  held, so this grows with the square of the size: why the values one request writes to
  an attribute are bounded.
- ``loop`` (best of ``--repeat`` for each column): the whole proxy app (ASGI, against
  the simulator) answering ``/healthz`` probes, one a millisecond after the last was
  answered, while a PATCH of
  ``--operations`` runs: the longest gap between two answers, and the PATCH's own time.
  Bodies the limits refuse are timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from scim2_models import PatchOp

from scim_proxy.scim.models import USER_READ_ONLY, User
from scim_proxy.scim.payloads import apply_patch_in_slices, read_patch_in_slices

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TOKEN = "bench-token"


def _user() -> User:
    return User.model_validate(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "ana@example.com",
            "name": {"givenName": "Ana", "familyName": "Lima"},
            "emails": [{"value": "ana@example.com", "primary": True, "type": "work"}],
            "active": True,
        }
    )


def replaces(n: int) -> list[dict[str, Any]]:
    """``n`` replaces of plain attributes, with one add so that the read path applies them."""
    ops: list[dict[str, Any]] = [{"op": "add", "path": "nickName", "value": "x"}]
    paths = ("name.givenName", "name.familyName", "active")
    for i in range(n - 1):
        path = paths[i % 3]
        ops.append(
            {"op": "replace", "path": path, "value": i % 2 == 0 if path == "active" else f"v{i}"}
        )
    return ops


def mixed(n: int) -> list[dict[str, Any]]:
    """50 ``emails`` adds, then 50 removes (100 values: the default limit), then replaces."""
    adds = [
        {"op": "add", "path": "emails", "value": [{"value": f"e{i}@example.com"}]}
        for i in range(50)
    ]
    removes = [{"op": "remove", "path": f'emails[value eq "e{i}@example.com"]'} for i in range(50)]
    return (adds + removes + replaces(max(1, n - 100)))[:n]


def email_adds(n: int) -> list[dict[str, Any]]:
    """``n`` adds of one address each: the list grows by one per operation."""
    return [
        {"op": "add", "path": "emails", "value": [{"value": f"e{i}@example.com"}]} for i in range(n)
    ]


def _best(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def read_and_apply(ops: list[dict[str, Any]], repeat: int) -> tuple[float, float]:
    """Seconds to read, then to apply, a PATCH of ``ops`` (best of ``repeat``), as the
    proxy does: a slice at a time, the event loop turning in between."""
    body = {"schemas": [PATCH_OP], "Operations": ops}

    def read() -> PatchOp[User] | None:
        return asyncio.run(read_patch_in_slices(User, body, read_only=USER_READ_ONLY))

    patch = read()
    assert patch is not None
    users = [_user() for _ in range(repeat)]
    return _best(read, repeat), _best(
        lambda: asyncio.run(apply_patch_in_slices(patch, users.pop())), repeat
    )


def cpu(repeat: int) -> None:
    print("| shape | operations | read (ms) | apply (ms) | total per operation (µs) |")
    print("|---|---:|---:|---:|---:|")
    for name, shape in (("replaces", replaces), ("100 emails values + replaces", mixed)):
        for n in (100, 250, 500, 1000):
            read, apply = read_and_apply(shape(n), repeat)
            per_op = (read + apply) / n * 1e6
            print(f"| {name} | {n:,} | {read * 1e3:.1f} | {apply * 1e3:.1f} | {per_op:.0f} |")


def unbounded(repeat: int) -> None:
    print("| `add emails` operations | read (ms) | apply (ms) | apply per operation (µs) |")
    print("|---:|---:|---:|---:|")
    for n in (100, 200, 400, 800):
        read, apply = read_and_apply(email_adds(n), max(1, repeat // 2))
        print(f"| {n:,} | {read * 1e3:.1f} | {apply * 1e3:.1f} | {apply / n * 1e6:.0f} |")


async def _loop(operations: int, repeat: int) -> None:
    from scim_proxy.http.app import create_app
    from scim_proxy.ops.config import LoggingSettings, Settings
    from scim_proxy.ops.logging import configure_logging
    from scim_proxy.simulator import SimulatorSettings, create_simulator_app

    configure_logging(LoggingSettings(level="error"))
    simulator = create_simulator_app(SimulatorSettings(token=TOKEN, users=1))
    settings = Settings().replace("upstream", base_url="http://telemetrytv.bench")
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://proxy.bench/scim/v2",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=600,
    ) as client:
        listed = await client.get("/Users", params={"count": 1})
        user_id = listed.json()["Resources"][0]["id"]
        bodies: dict[str, list[dict[str, Any]] | None] = {
            "none: the probes alone for 0.5 s (the machine's own noise)": None,
            f"{operations:,} operations (100 emails values + replaces)": mixed(operations),
            "1,001 replaces (over scim.max_patch_operations)": replaces(1001),
            "12,000 `add emails` (the review's 840 KB PATCH)": email_adds(12_000),
            "1,000 adds + 1,000 removes of emails (the review's 86 KB PATCH)": email_adds(1000)
            + [
                {"op": "remove", "path": f'emails[value eq "e{i}@example.com"]'}
                for i in range(1000)
            ],
        }
        print("| PATCH | status | answered in (ms) | longest gap between probes (ms) |")
        print("|---|---:|---:|---:|")
        for name, ops in bodies.items():
            # Encoded before the clock starts: the client's own work is not the proxy's.
            body = b"" if ops is None else orjson.dumps({"schemas": [PATCH_OP], "Operations": ops})
            rounds = [await _probed(client, f"/Users/{user_id}", body) for _ in range(repeat)]
            status = rounds[0][0]
            took = min(r[1] for r in rounds)
            gap = min(r[2] for r in rounds)
            print(f"| {name} | {status} | {took * 1e3:.0f} | {gap * 1e3:.0f} |")


async def _probed(client: httpx.AsyncClient, path: str, body: bytes) -> tuple[str, float, float]:
    """The PATCH of ``body`` (none: a 0.5 s wait) with probes meanwhile: its status, its
    time, and the longest gap between two probe answers."""
    waits: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        # A probe is sent 1 ms after the last answer, so a loop held by other work shows
        # as a long gap between two answers.
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            await client.get("http://proxy.bench/healthz")
            now = time.perf_counter()
            waits.append(now - last)
            last = now

    gc.collect()  # before the probes: a collection now would be the bench's own gap
    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    status = "-"
    if not body:
        await asyncio.sleep(0.5)
    else:
        headers = {"Content-Type": "application/json"}
        status = str((await client.patch(path, content=body, headers=headers)).status_code)
    took = time.perf_counter() - started
    done.set()
    await prober
    return status, took, max(waits)


def main() -> None:
    from scim_proxy.ops.config import LoggingSettings
    from scim_proxy.ops.logging import configure_logging

    configure_logging(LoggingSettings(level="error"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("cpu", "unbounded", "loop", "all"), default="all")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--operations", type=int, default=1000)
    args = parser.parse_args()
    if args.part in ("cpu", "all"):
        cpu(args.repeat)
        print()
    if args.part in ("unbounded", "all"):
        unbounded(args.repeat)
        print()
    if args.part in ("loop", "all"):
        asyncio.run(_loop(args.operations, args.repeat))


if __name__ == "__main__":
    main()
