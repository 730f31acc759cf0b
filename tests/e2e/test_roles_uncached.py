"""``roles.names_cache_seconds = 0``: every read showing roles lists the groups, and a
request still lists them at most once (a role write reuses its own listing)."""

from __future__ import annotations

import httpx
import pytest

from scim_proxy.ops.config import Settings
from tests.conftest import fixture, proxy_settings
from tests.e2e.test_upstream_call_counts import Calls, _cost

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings() -> Settings:
    """No kept listing of group names."""
    return proxy_settings().replace("roles", names_cache_seconds=0)


async def test_each_request_lists_the_groups_at_most_once(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    lobby = (await client.post("/Groups", json=fixture("okta/group-create"))).json()["id"]
    grant = fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby")
    write = await _cost(upstream_calls, client.patch(f"/Users/{user_id}", json=grant))
    assert write.count(("GET", "/user-groups")) == 1
    for _ in range(2):
        read = await _cost(upstream_calls, client.get(f"/Users/{user_id}"))
        assert [path for _, path in read] == [f"/users/{user_id}", "/user-groups"]
