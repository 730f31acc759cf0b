"""Three real ``scim-proxy serve`` processes coordinating through a real redis-server.

One simulator with latency and 25 % faults behind them; rounds of concurrent adds and
removes on the same users, sent as a retrying IdP would: nothing lost, nothing extra.
The same with Redis stopped midway (every change falls back to verify) and restarted; a
lock holder killed with SIGKILL; and ``process`` mode refused with several workers.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis.asyncio as aioredis

from scim_proxy.translation.memberships.redis_locks import LOCK_PREFIX
from tests.processes import free_port, start, stop, wait_until_up
from tests.redis_server import RedisServer

TOKEN = "redis-coordination-token"
USERS = 6
GROUPS = 4
ROUNDS = 3
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TV = {"Authorization": f"Token {TOKEN}"}
SCIM = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Deployment:
    """The simulator's URL and the proxies' base URLs."""

    upstream: str
    proxies: list[str]


def _proxy_env(redis_url: str) -> dict[str, str]:
    return {
        "SCIM_PROXY_GROUPS_COORDINATION": "redis",
        "SCIM_PROXY_GROUPS_REDIS_URL": redis_url,
        "SCIM_PROXY_GROUPS_SETTLE_SECONDS": "0.3",
        "SCIM_PROXY_GROUPS_MAX_READ_AGE_SECONDS": "0.1",
        # A write whose outcome is unknown (a dropped connection) leaves its user's lock to
        # expire: with the defaults (25 s of upstream timeouts, 30 s locks) each round would
        # wait about 30 s for such locks. The simulator answers within 150 ms or drops, so
        # timeouts and a lock lifetime this short (still more than the timeouts, as the
        # configuration requires) prove the same in seconds.
        "SCIM_PROXY_UPSTREAM_CONNECT_TIMEOUT": "1",
        "SCIM_PROXY_UPSTREAM_READ_TIMEOUT": "2",
        "SCIM_PROXY_GROUPS_LOCK_SECONDS": "3.5",
        "SCIM_PROXY_UPSTREAM_TRANSPORT": "httpx",
        # Faults are the point here: keep the breaker from pausing everything.
        "SCIM_PROXY_UPSTREAM_BREAKER_FAILURES": "1000",
        "SCIM_PROXY_UPSTREAM_RETRY_INITIAL_BACKOFF_SECONDS": "0.02",
        "SCIM_PROXY_UPSTREAM_RETRY_MAX_BACKOFF_SECONDS": "0.1",
        "SCIM_PROXY_LOGGING_LEVEL": "error",
    }


def _deploy(redis_url: str, proxies: int, *simulator_args: str) -> Iterator[Deployment]:
    sim_port = free_port()
    simulator = start(
        "simulator", "--port", str(sim_port), "--token", TOKEN, "--users", str(USERS),
        *simulator_args,
    )  # fmt: skip
    upstream = f"http://127.0.0.1:{sim_port}"
    running = [simulator]
    try:
        wait_until_up(f"{upstream}/users", simulator)
        urls = []
        for _ in range(proxies):
            port = free_port()
            running.append(
                start(
                    "serve", "--port", str(port), "--upstream", upstream, env=_proxy_env(redis_url)
                )
            )
            wait_until_up(f"http://127.0.0.1:{port}/healthz", running[-1])
            urls.append(f"http://127.0.0.1:{port}")
        yield Deployment(upstream, urls)
    finally:
        for process in reversed(running):
            stop(process)


@pytest.fixture
def faulty(redis_server: RedisServer) -> Iterator[Deployment]:
    """Three proxies in redis mode; the simulator has latency and faults 25 % of requests."""
    yield from _deploy(
        redis_server.url, 3,
        "--latency-ms", "3", "--fail-rate", "0.25", "--fault-seed", "9",
        "--slow-ms", "150", "--commit-delay-ms", "150",
    )  # fmt: skip


async def _upstream_get(http: httpx.AsyncClient, url: str) -> list[dict[str, object]]:
    """A read of the simulator, repeated through its injected faults."""
    for _ in range(50):
        try:
            response = await http.get(url, headers=TV)
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            body: list[dict[str, object]] = response.json()
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} kept failing")


async def _upstream_post(http: httpx.AsyncClient, url: str, body: dict[str, str]) -> str:
    for _ in range(50):
        try:
            response = await http.post(url, headers=TV, json=body)
        except httpx.HTTPError:
            continue
        if response.status_code == 201:
            return str(response.json()["id"])
        if response.status_code == 409 or (response.status_code == 400 and "name" in response.text):
            found = await _upstream_get(http, url)
            return str(next(g["id"] for g in found if g["name"] == body["name"]))
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} kept failing")


async def _send(http: httpx.AsyncClient, url: str, body: dict[str, object]) -> None:
    """PATCH as an IdP does: a failure is retried until the change is in place."""
    for _ in range(60):
        response = await http.patch(url, headers=SCIM, json=body)
        if response.status_code == 204:
            return
        # Never a 500, always a SCIM error saying to try again.
        assert response.status_code in (429, 502, 503, 504), response.text
        assert response.headers["content-type"].startswith("application/scim+json")
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never succeeded")


class Workload:
    """Random concurrent adds and removes on the same users, and what they must leave."""

    def __init__(self, users: list[str], groups: list[str], seed: int) -> None:
        self.users = users
        self.groups = groups
        self.expected: dict[str, set[str]] = {g: set() for g in groups}
        self.random = random.Random(seed)

    async def rounds(self, http: httpx.AsyncClient, proxies: list[str], count: int) -> None:
        for _ in range(count):
            requests = []
            for group in self.groups:
                shuffled = self.random.sample(self.users, len(self.users))
                add, remove = shuffled[:3], shuffled[3:5]
                self.expected[group] = (self.expected[group] | set(add)) - set(remove)
                add_body = {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": u} for u in add]}
                    ],
                }
                remove_body = {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "remove", "path": f'members[value eq "{u}"]'} for u in remove
                    ],
                }
                for body in (add_body, remove_body):
                    proxy = self.random.choice(proxies)
                    requests.append(_send(http, f"{proxy}/scim/v2/Groups/{group}", body))
            await asyncio.gather(*requests)

    async def check(self, http: httpx.AsyncClient, upstream: str) -> None:
        for group in self.groups:
            members = await _upstream_get(
                http, f"{upstream}/users?user_group_id={group}&per_page=100"
            )
            assert {str(m["id"]) for m in members} == self.expected[group], group


async def _setup(http: httpx.AsyncClient, upstream: str) -> tuple[list[str], list[str]]:
    users = await _upstream_get(http, f"{upstream}/users?per_page=100")
    user_ids = [str(u["id"]) for u in users if str(u["email"]).startswith("user")]
    groups = [
        await _upstream_post(http, f"{upstream}/user-groups", {"name": f"Team {i}"})
        for i in range(GROUPS)
    ]
    return user_ids, groups


def _fallbacks(metrics_text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("scim_proxy_coordination_fallbacks_total{")
    )


@pytest.mark.anyio
async def test_three_processes_lose_nothing_through_faults_and_a_redis_outage(
    faulty: Deployment, redis_server: RedisServer
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        users, groups = await _setup(http, faulty.upstream)
        work = Workload(users, groups, seed=5)
        await work.rounds(http, faulty.proxies, ROUNDS)
        await work.check(http, faulty.upstream)

        redis_server.stop()
        await work.rounds(http, faulty.proxies, ROUNDS)
        await work.check(http, faulty.upstream)
        ready = await http.get(f"{faulty.proxies[0]}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["coordination"].startswith("degraded: ")
        fallbacks = [
            _fallbacks((await http.get(f"{proxy}/metrics")).text) for proxy in faulty.proxies
        ]
        assert sum(fallbacks) >= 2 * GROUPS * ROUNDS

        redis_server.start()
        for proxy in faulty.proxies:  # a probe, like the first request after the back-off
            ready = await http.get(f"{proxy}/readyz")
            assert ready.json()["checks"]["coordination"].startswith("redis ("), ready.text
        await work.rounds(http, faulty.proxies, ROUNDS)
        await work.check(http, faulty.upstream)
        after = [_fallbacks((await http.get(f"{proxy}/metrics")).text) for proxy in faulty.proxies]
        assert after == fallbacks  # Redis was used again: no more fallbacks
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        assert await redis.keys(f"{LOCK_PREFIX}*") == []  # every lock released


@pytest.fixture
def quiet(redis_server: RedisServer) -> Iterator[Deployment]:
    """One proxy in redis mode in front of a simulator without faults."""
    yield from _deploy(redis_server.url, 1, "--latency-ms", "2")


@pytest.mark.anyio
async def test_a_lock_holder_killed_with_sigkill_blocks_the_user_only_until_its_lock_expires(
    quiet: Deployment, redis_server: RedisServer
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        users, groups = await _setup(http, quiet.upstream)
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.lock_holder", redis_server.url, quiet.upstream,
            users[0], "3",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            assert (await holder.stdout.readline()).strip() == b"held"
            body = {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": users[0]}]}],
            }
            url = f"{quiet.proxies[0]}/scim/v2/Groups/{groups[0]}"
            change = asyncio.create_task(http.patch(url, headers=SCIM, json=body))
            await asyncio.sleep(0.3)
            # The proxy waits for the lock: nothing is written while it is held.
            member_of = await _upstream_get(http, f"{quiet.upstream}/users/{users[0]}")
            assert groups[0] not in member_of["user_group_ids"]  # type: ignore[call-overload]
            assert not change.done()
            holder.send_signal(signal.SIGKILL)
            await holder.wait()
            response = await change
        finally:
            if holder.returncode is None:
                holder.kill()
                await holder.wait()
        assert response.status_code == 204, response.text
        user = await _upstream_get(http, f"{quiet.upstream}/users/{users[0]}")
        assert groups[0] in user["user_group_ids"]  # type: ignore[call-overload]


def test_process_coordination_is_refused_with_several_workers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scim_proxy", "serve", "--port", str(free_port()), "--workers", "2"],
        env={"SCIM_PROXY_GROUPS_COORDINATION": "process", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"groups.coordination = process" in result.stderr
    assert b"server.workers = 2" in result.stderr
