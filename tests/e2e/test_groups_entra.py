"""Microsoft Entra ID group provisioning: no members on create, value-array removes, 204s."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture
from tests.e2e.test_groups_okta import members_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def users(client: httpx.AsyncClient) -> list[str]:
    """Two provisioned users."""
    listed = (await client.get('/Users?filter=userName sw "user"')).json()["Resources"]
    return [u["id"] for u in listed][:2]


async def _create(client: httpx.AsyncClient) -> str:
    response = await client.post("/Groups", json=fixture("entra/group-create"))
    assert response.status_code == 201, response.text
    assert "externalId" not in response.json()
    return str(response.json()["id"])


async def test_test_connection_finds_no_random_group(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/Groups",
        params={
            "excludedAttributes": "members",
            "filter": 'displayName eq "7d6d5d5e-f3a3-4c0d-a5a4-3b6f59a8c2a1"',
        },
    )
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0


async def test_add_remove_and_rename_answer_204(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _create(client)
    add = fixture("entra/group-patch-add-members", u1=users[0], u2=users[1])
    response = await client.patch(f"/Groups/{group_id}", json=add)
    assert response.status_code == 204
    assert members_of(store, group_id) == set(users)

    remove = fixture("entra/group-patch-remove-members", u1=users[0])
    assert (await client.patch(f"/Groups/{group_id}", json=remove)).status_code == 204
    assert members_of(store, group_id) == {users[1]}

    rename = fixture("entra/group-patch-rename")
    assert (await client.patch(f"/Groups/{group_id}", json=rename)).status_code == 204
    assert store.get_group(group_id)["name"].endswith("updatedDisplayName")


async def test_reads_without_members_cost_no_member_listing(
    client: httpx.AsyncClient,
    upstream_calls: Callable[[], list[tuple[str, str]]],
    users: list[str],
) -> None:
    group_id = await _create(client)
    await client.patch(
        f"/Groups/{group_id}",
        json=fixture("entra/group-patch-add-members", u1=users[0], u2=users[1]),
    )
    before = len(upstream_calls())
    response = await client.get(f"/Groups/{group_id}?excludedAttributes=members")
    assert "members" not in response.json()
    assert upstream_calls()[before:] == [("GET", f"/user-groups/{group_id}")]
