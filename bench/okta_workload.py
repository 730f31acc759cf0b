"""An Okta-like provisioning workload against the proxy and a faulty simulator.

It starts the simulator (with fault injection) and the proxy on 127.0.0.1 with uvicorn in
background threads, drives the proxy the way Okta does, then compares what the simulator
holds with what the workload intended: every user once, with the intended names, state
and password; every group once, with exactly the intended members.

The client behaves like Okta: a 429 is retried after its ``Retry-After`` (compressed to
at most 1 s where Okta waits up to 5 minutes, so a run stays short); any other failure
fails the task, and the task is re-driven from its start, as an admin's retry or Okta's
next push does (assignments start with Okta's ``userName eq`` lookup, group pushes with
its ``displayName eq`` lookup).

    python -m bench.okta_workload --users 200 --groups 20 --fail-rate 0.3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.ops.logging import LogFormat, LoggingSettings, configure_logging
from scim_proxy.simulator import SimulatorSettings, SimulatorStore, create_simulator_app
from scim_proxy.simulator.server import quiet_dropped_connections

TOKEN = "workload-token"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


class TaskFailed(Exception):
    """A request failed the way Okta reports a failed task."""


@dataclass
class Intent:
    """What one user should end up as."""

    email: str
    given: str
    family: str
    active: bool = True
    password: str = ""


@dataclass
class Report:
    """What a run did and what it found."""

    users: int
    groups: int
    fail_rate: float
    requests: int = 0
    task_retries: int = 0
    rate_limited: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lost_writes: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        """Whether TelemetryTV ended up exactly as intended."""
        return not self.lost_writes and not self.duplicates


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any, port: int) -> Iterator[None]:
    """Serve ``app`` on 127.0.0.1:``port`` in a background thread for the block."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class OktaLikeClient:
    """Sends SCIM requests the way Okta does, counting what happens."""

    def __init__(self, http: httpx.AsyncClient, report: Report) -> None:
        self.http = http
        self.report = report

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a 429 is retried after Retry-After (up to 10 times, as Okta does)."""
        for _ in range(10):
            self.report.requests += 1
            try:
                response = await self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise TaskFailed(f"{method} {path}: {type(exc).__name__}") from exc
            self.report.statuses[response.status_code] += 1
            if response.status_code != 429:
                return response
            self.report.rate_limited += 1
            wait = response.headers.get("retry-after", "")
            await asyncio.sleep(min(1.0, float(wait)) if wait.isdigit() else 1.0)
        raise TaskFailed(f"{method} {path}: still rate limited")

    async def expect(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        """A request whose status must be one of ``ok``; its JSON body (or None)."""
        response = await self.request(method, path, **kwargs)
        if response.status_code not in ok:
            raise TaskFailed(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    async def task(self, work: Callable[[], Awaitable[None]], tries: int = 30) -> None:
        """Run a task until it succeeds, re-driving it after each failure."""
        for attempt in range(tries):
            try:
                await work()
                return
            except TaskFailed:
                self.report.task_retries += 1
                await asyncio.sleep(0.05 * (attempt + 1))
        raise RuntimeError("a task kept failing")


async def _assign(client: OktaLikeClient, intent: Intent, ids: dict[str, str]) -> None:
    """Okta's assignment: look the user up by userName; create it if absent."""
    found = await client.expect(
        "GET", "/Users", (200,), params={"filter": f'userName eq "{intent.email}"'}
    )
    if found["Resources"]:
        ids[intent.email] = found["Resources"][0]["id"]
        return
    created = await client.expect(
        "POST",
        "/Users",
        (201,),
        json={
            "schemas": [USER_SCHEMA],
            "userName": intent.email,
            "name": {"givenName": intent.given, "familyName": intent.family},
            "emails": [{"primary": True, "value": intent.email, "type": "work"}],
            "password": intent.password,
            "active": True,
        },
    )
    ids[intent.email] = created["id"]


async def _update(client: OktaLikeClient, intent: Intent, user_id: str, aiw: bool) -> None:
    """Push the intended profile, state and password, in Okta's AIW (PUT) or OIN (PATCH) way."""
    if aiw:
        current = await client.expect("GET", f"/Users/{user_id}", (200,))
        current.update(
            name={"givenName": intent.given, "familyName": intent.family},
            active=intent.active,
            password=intent.password,
        )
        await client.expect("PUT", f"/Users/{user_id}", (200,), json=current)
        return
    operations = [
        {
            "op": "replace",
            "value": {"name": {"givenName": intent.given, "familyName": intent.family}},
        },
        {"op": "replace", "value": {"password": intent.password}},
        {"op": "replace", "value": {"active": intent.active}},
    ]
    await client.expect(
        "PATCH",
        f"/Users/{user_id}",
        (200, 204),
        json={"schemas": [PATCH_OP], "Operations": operations},
    )


async def _push_group(
    client: OktaLikeClient, name: str, member_ids: list[str], groups: dict[str, str]
) -> None:
    """Okta's group push: look the name up, create if absent, then replace the members."""
    found = await client.expect(
        "GET",
        "/Groups",
        (200,),
        params={"filter": f'displayName eq "{name}"', "excludedAttributes": "members"},
    )
    if found["Resources"]:
        group_id = found["Resources"][0]["id"]
    else:
        created = await client.expect(
            "POST",
            "/Groups",
            (201,),
            json={"schemas": [GROUP_SCHEMA], "displayName": name, "members": []},
        )
        group_id = created["id"]
    groups[name] = group_id
    members = [{"value": m} for m in member_ids]
    await client.expect(
        "PATCH",
        f"/Groups/{group_id}",
        (200, 204),
        json={
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "value": {"id": group_id, "displayName": name}},
                {"op": "add", "path": "members", "value": members},
            ],
        },
    )


async def _remove_members(client: OktaLikeClient, group_id: str, member_ids: list[str]) -> None:
    operations = [{"op": "remove", "path": f'members[value eq "{m}"]'} for m in member_ids]
    await client.expect(
        "PATCH",
        f"/Groups/{group_id}",
        (200, 204),
        json={"schemas": [PATCH_OP], "Operations": operations},
    )


async def drive(
    base_url: str, report: Report, seed: int, concurrency: int = 8
) -> tuple[dict[str, Intent], dict[str, set[str]]]:
    """Run the workload against the proxy at ``base_url``; return the intended state."""
    rng = random.Random(seed)
    intents = {
        f"okta.user{i:04d}@example.com": Intent(
            email=f"okta.user{i:04d}@example.com",
            given=f"Given{i}",
            family=f"Family{i}",
            password=f"Initial-{i}!pw",
        )
        for i in range(report.users)
    }
    ids: dict[str, str] = {}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as http:
        client = OktaLikeClient(http, report)

        async def bounded(work: Callable[[], Awaitable[None]]) -> None:
            async with gate:
                await client.task(work)

        # 1. Assign every user (lookup, then create).
        await asyncio.gather(
            *(bounded(lambda i=i: _assign(client, i, ids)) for i in intents.values())
        )
        # 2. Update every profile and sync a new password; 3. deactivate a quarter and
        #    reactivate half of those. Half the users as AIW (PUT), half as OIN (PATCH).
        emails = sorted(intents)
        for index, email in enumerate(emails):
            intent = intents[email]
            intent.given, intent.family = f"Updated{index}", f"Surname{index}"
            intent.password = f"Synced-{index}!pw"
        await asyncio.gather(
            *(
                bounded(lambda e=e, n=n: _update(client, intents[e], ids[e], aiw=n % 2 == 0))
                for n, e in enumerate(emails)
            )
        )
        deactivated = [e for n, e in enumerate(emails) if n % 4 == 0]
        for email in deactivated:
            intents[email].active = False
        await asyncio.gather(
            *(
                bounded(lambda e=e: _update(client, intents[e], ids[e], aiw=False))
                for e in deactivated
            )
        )
        for email in deactivated[::2]:
            intents[email].active = True
        await asyncio.gather(
            *(
                bounded(lambda e=e: _update(client, intents[e], ids[e], aiw=True))
                for e in deactivated[::2]
            )
        )
        # 4. Push groups with random overlapping memberships, all at once; then remove some.
        memberships = {
            f"Okta Group {g:02d}": set(rng.sample(emails, k=max(1, len(emails) // 3)))
            for g in range(report.groups)
        }
        groups: dict[str, str] = {}
        await asyncio.gather(
            *(
                bounded(
                    lambda n=n, m=m: _push_group(client, n, [ids[e] for e in sorted(m)], groups)
                )
                for n, m in memberships.items()
            )
        )
        removals = {name: set(sorted(m)[: len(m) // 4]) for name, m in memberships.items()}
        await asyncio.gather(
            *(
                bounded(
                    lambda n=n, r=r: _remove_members(client, groups[n], [ids[e] for e in sorted(r)])
                )
                for n, r in removals.items()
                if r
            )
        )
        for name, removed in removals.items():
            memberships[name] -= removed
    return intents, memberships


def verify(
    store: SimulatorStore,
    intents: dict[str, Intent],
    memberships: dict[str, set[str]],
    report: Report,
) -> None:
    """Compare what the simulator holds with what was intended."""
    users, _ = store.list_users(page=1, per_page=1000)
    ours = [u for u in users if u["email"].startswith("okta.user")]
    by_email = Counter(u["email"].casefold() for u in ours)
    report.duplicates += [e for e, n in by_email.items() if n > 1]
    held = {u["email"].casefold(): u for u in ours}
    for email, intent in intents.items():
        user = held.get(email)
        if user is None:
            report.lost_writes.append(f"user {email} missing")
            continue
        if (user["first_name"], user["last_name"]) != (intent.given, intent.family):
            report.lost_writes.append(
                f"user {email} names {user['first_name']} {user['last_name']}"
            )
        if user["disabled"] is intent.active:
            report.lost_writes.append(f"user {email} disabled={user['disabled']}")
        if store.password_of(user["id"]) != intent.password:
            report.lost_writes.append(f"user {email} password not the synced one")
    groups, _ = store.list_groups(page=1, per_page=1000)
    names = Counter(g["name"] for g in groups)
    report.duplicates += [f"group {n}" for n, count in names.items() if count > 1]
    id_of = {g["name"]: g["id"] for g in groups}
    email_of = {u["id"]: u["email"].casefold() for u in ours}
    for name, members in memberships.items():
        if name not in id_of:
            report.lost_writes.append(f"group {name} missing")
            continue
        found, _ = store.list_users(page=1, per_page=1000, user_group_id=id_of[name])
        actual = {email_of[u["id"]] for u in found if u["id"] in email_of}
        if actual != members:
            report.lost_writes.append(
                f"group {name}: {len(members - actual)} missing, {len(actual - members)} extra"
            )


def proxy_settings(upstream: str) -> Settings:
    """The proxy's settings for the run.

    The read timeout (1 s) is longer than a ``slow`` reply (0.5 s) and shorter than a
    ``commit-timeout`` one (1.2 s): slow replies are waited for, committed writes whose
    reply comes late are given up on and retried. The settle wait (0.8 s) is longer
    than any write takes to land (docs/memberships.md).
    """
    return (
        Settings()
        .replace(
            "upstream",
            base_url=upstream,
            read_timeout=1.0,
            retry_initial_backoff_seconds=0.05,
            retry_max_backoff_seconds=1.0,
            breaker_cooldown_seconds=1.0,
        )
        .replace("groups", settle_seconds=0.8, max_read_age_seconds=0.1)
    )


def run(*, users: int, groups: int, fail_rate: float, seed: int = 7) -> Report:
    """Start simulator and proxy, run the workload, verify; the report of the run."""
    report = Report(users=users, groups=groups, fail_rate=fail_rate)
    simulator = create_simulator_app(
        SimulatorSettings(
            token=TOKEN,
            fail_rate=fail_rate,
            fault_seed=seed,
            slow_ms=500,
            commit_delay_ms=1200,
        )
    )
    quiet_dropped_connections()
    sim_port, proxy_port = free_port(), free_port()
    proxy = create_app(proxy_settings(f"http://127.0.0.1:{sim_port}"))
    started = time.monotonic()
    with serve_in_thread(simulator, sim_port), serve_in_thread(proxy, proxy_port):
        intents, memberships = asyncio.run(
            drive(f"http://127.0.0.1:{proxy_port}/scim/v2", report, seed)
        )
    report.seconds = time.monotonic() - started
    report.faults = simulator.state.faults
    verify(simulator.state.store, intents, memberships, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: run the workload and print its report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    configure_logging(LoggingSettings(level="error", format=LogFormat.json))
    report = run(users=args.users, groups=args.groups, fail_rate=args.fail_rate, seed=args.seed)
    print(f"users {report.users}, groups {report.groups}, fault rate {report.fail_rate:.0%}")
    print(f"wall time {report.seconds:.1f} s, client requests {report.requests}")
    print(
        f"task retries (Okta re-drives) {report.task_retries}, "
        f"429s waited out {report.rate_limited}"
    )
    print(
        "statuses seen by the client: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(report.statuses.items()))
    )
    print("faults injected: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.faults.items())))
    print(f"lost writes: {len(report.lost_writes)}, duplicates: {len(report.duplicates)}")
    for problem in [*report.lost_writes, *report.duplicates][:20]:
        print(f"  {problem}")
    return 0 if report.exact else 1


if __name__ == "__main__":
    sys.exit(main())
