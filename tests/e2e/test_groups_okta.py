"""Okta group push, in the PATCH dialect (OIN apps) and the PUT dialect (AIW apps)."""

from __future__ import annotations

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio


@pytest.fixture
async def users(client: httpx.AsyncClient) -> list[str]:
    """Three provisioned users (the simulator seeds three besides the owner)."""
    listed = (await client.get('/Users?filter=userName sw "user"')).json()["Resources"]
    return [u["id"] for u in listed][:3]


def members_of(store: SimulatorStore, group_id: str) -> set[str]:
    """Who TelemetryTV holds in the group."""
    found, _ = store.list_users(page=1, per_page=1000, user_group_id=group_id)
    return {u["id"] for u in found}


async def _push(client: httpx.AsyncClient) -> str:
    """Okta's push: look the name up, find nothing, create the group with no members."""
    lookup = await client.get('/Groups?filter=displayName eq "Sales EMEA"&startIndex=1&count=100')
    assert lookup.json()["totalResults"] == 0
    created = await client.post("/Groups", json=fixture("okta/group-create"))
    assert created.status_code == 201
    assert created.headers["location"].endswith(f"/Groups/{created.json()['id']}")
    return str(created.json()["id"])


async def test_push_creates_an_empty_group(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    group_id = await _push(client)
    assert store.get_group(group_id)["name"] == "Sales EMEA"
    assert members_of(store, group_id) == set()
    found = (await client.get('/Groups?filter=displayName eq "Sales EMEA"')).json()
    assert [g["id"] for g in found["Resources"]] == [group_id]


async def test_create_with_members(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    body = fixture("okta/group-create-with-members", u1=users[0], u2=users[1])
    response = await client.post("/Groups", json=body)
    assert response.status_code == 201
    group_id = response.json()["id"]
    assert {m["value"] for m in response.json()["members"]} == {users[0], users[1]}
    assert members_of(store, group_id) == {users[0], users[1]}


async def test_duplicate_name_is_409(client: httpx.AsyncClient) -> None:
    await _push(client)
    response = await client.post("/Groups", json=fixture("okta/group-create"))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


async def test_rename_ignores_the_id_in_the_value(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    group_id = await _push(client)
    body = fixture("okta/group-patch-rename", id="some-other-id")
    response = await client.patch(f"/Groups/{group_id}", json=body)
    assert response.status_code == 204
    assert store.get_group(group_id)["name"] == "Sales EMEA North"


async def test_member_removes_and_add_in_one_request(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _push(client)
    await client.patch(
        f"/Groups/{group_id}",
        json=fixture("entra/group-patch-add-members", u1=users[0], u2=users[1]),
    )
    body = fixture("okta/group-patch-members", u1=users[0], u2=users[1], u3=users[2])
    response = await client.patch(f"/Groups/{group_id}", json=body)
    assert response.status_code == 204
    assert members_of(store, group_id) == {users[2]}


async def test_adding_a_member_twice_and_removing_a_non_member_succeed(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _push(client)
    body = fixture("okta/group-patch-members", u1=users[0], u2=users[1], u3=users[2])
    for _ in range(2):
        assert (await client.patch(f"/Groups/{group_id}", json=body)).status_code == 204
    assert members_of(store, group_id) == {users[2]}


async def test_push_now_replaces_the_whole_member_list(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _push(client)
    await client.patch(
        f"/Groups/{group_id}",
        json=fixture("entra/group-patch-add-members", u1=users[0], u2=users[1]),
    )
    body = fixture("okta/group-patch-push-now", id=group_id, u2=users[1], u3=users[2])
    assert (await client.patch(f"/Groups/{group_id}", json=body)).status_code == 204
    assert members_of(store, group_id) == {users[1], users[2]}


async def test_an_unknown_member_is_400_naming_it_and_nothing_changes(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _push(client)
    body = fixture(
        "okta/group-patch-members", u1=users[0], u2=users[1], u3="ffffffffffffffffffffffff"
    )
    body["Operations"].append({"op": "add", "path": "members", "value": [{"value": users[0]}]})
    response = await client.patch(f"/Groups/{group_id}", json=body)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert "ffffffffffffffffffffffff" in response.json()["detail"]
    assert members_of(store, group_id) == set()


async def test_aiw_push_is_get_then_put_with_name_and_members(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _push(client)
    assert (await client.get(f"/Groups/{group_id}")).status_code == 200
    await client.patch(
        f"/Groups/{group_id}",
        json=fixture("entra/group-patch-add-members", u1=users[0], u2=users[1]),
    )
    body = fixture("okta/group-put", id=group_id, u2=users[1], u3=users[2])
    response = await client.put(f"/Groups/{group_id}", json=body)
    assert response.status_code == 200
    assert response.json()["displayName"] == "Sales EMEA West"
    assert {m["value"] for m in response.json()["members"]} == {users[1], users[2]}
    assert store.get_group(group_id)["name"] == "Sales EMEA West"
    assert members_of(store, group_id) == {users[1], users[2]}


async def test_unlink_with_delete_removes_the_group_from_every_user(
    client: httpx.AsyncClient, store: SimulatorStore, users: list[str]
) -> None:
    group_id = await _push(client)
    await client.patch(
        f"/Groups/{group_id}",
        json=fixture("entra/group-patch-add-members", u1=users[0], u2=users[1]),
    )
    response = await client.delete(f"/Groups/{group_id}")
    assert response.status_code == 204
    assert (await client.get(f"/Groups/{group_id}")).status_code == 404
    for user_id in users[:2]:
        user = (await client.get(f"/Users/{user_id}")).json()
        assert group_id not in {g["value"] for g in user.get("groups", [])}


async def test_users_show_their_groups(client: httpx.AsyncClient, users: list[str]) -> None:
    group_id = await _push(client)
    await client.patch(
        f"/Groups/{group_id}",
        json=fixture("entra/group-patch-add-members", u1=users[0], u2=users[1]),
    )
    user = (await client.get(f"/Users/{users[0]}")).json()
    assert {
        "value": group_id,
        "$ref": f"http://proxy.test/scim/v2/Groups/{group_id}",
        "type": "direct",
    } in user["groups"]
