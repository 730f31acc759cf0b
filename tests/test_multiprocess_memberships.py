"""Two proxy processes, one TelemetryTV: concurrent membership changes all take effect.

Real processes (no shared memory, no shared locks), as two replicas behind a load
balancer would be; the simulator adds latency so their requests interleave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import free_port, start, stop, wait_until_up

TOKEN = "multi-process-token"
USERS = 10
GROUPS = 8


@pytest.fixture
def deployment() -> Iterator[tuple[str, list[str]]]:
    """A simulator and two proxies in front of it; yields their base URLs."""
    sim_port = free_port()
    simulator = start(
        "simulator",
        "--port",
        str(sim_port),
        "--token",
        TOKEN,
        "--users",
        str(USERS),
        "--latency-ms",
        "3",
    )
    upstream = f"http://127.0.0.1:{sim_port}"
    proxies = []
    urls = []
    try:
        wait_until_up(f"{upstream}/users", simulator)
        for _ in range(2):
            port = free_port()
            proxies.append(
                start(
                    "serve",
                    "--port",
                    str(port),
                    "--upstream",
                    upstream,
                    env={
                        "SCIM_PROXY_GROUPS_SETTLE_SECONDS": "0.3",
                        "SCIM_PROXY_GROUPS_MAX_READ_AGE_SECONDS": "0.1",
                        "SCIM_PROXY_UPSTREAM_TRANSPORT": "httpx",
                        "SCIM_PROXY_LOGGING_LEVEL": "warning",
                    },
                )
            )
            wait_until_up(f"http://127.0.0.1:{port}/healthz", proxies[-1])
            urls.append(f"http://127.0.0.1:{port}/scim/v2")
        yield upstream, urls
    finally:
        for process in [*proxies, simulator]:
            stop(process)


@pytest.mark.anyio
async def test_two_processes_pushing_groups_lose_no_membership(
    deployment: tuple[str, list[str]],
) -> None:
    upstream, proxies = deployment
    tv = {"Authorization": f"Token {TOKEN}"}
    scim = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=30) as http:
        users = (await http.get(f"{upstream}/users?per_page=100", headers=tv)).json()
        user_ids = [u["id"] for u in users if u["email"].startswith("user")]
        groups = [
            (await http.post(f"{upstream}/user-groups", headers=tv, json={"name": f"G{i}"})).json()[
                "id"
            ]
            for i in range(GROUPS)
        ]
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}
            ],
        }
        responses = await asyncio.gather(
            *(
                http.patch(f"{proxies[i % 2]}/Groups/{g}", headers=scim, json=body)
                for i, g in enumerate(groups)
            )
        )
        assert [r.status_code for r in responses] == [204] * GROUPS, [r.text for r in responses]
        for group_id in groups:
            members = (
                await http.get(
                    f"{upstream}/users?user_group_id={group_id}&per_page=100", headers=tv
                )
            ).json()
            assert {m["id"] for m in members} == set(user_ids), group_id
