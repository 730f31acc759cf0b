"""Group import and reads, the Admin group's protection, and what reads cost upstream."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from tests.conftest import TOKEN

pytestmark = pytest.mark.anyio

Calls = Callable[[], list[tuple[str, str]]]


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """250 users, so member listings span several upstream pages."""
    return SimulatorSettings(token=TOKEN, users=250)


@pytest.fixture
def groups(store: SimulatorStore) -> list[str]:
    """Five groups: group i holds users whose index is a multiple of i+1 (group 0: all)."""
    users, _ = store.list_users(page=1, per_page=1000)
    ids = [store.create_group({"name": f"Team {i}"})["id"] for i in range(5)]
    for index, user in enumerate(users):
        held = [g for i, g in enumerate(ids) if index % (i + 1) == 0]
        store.update_user(user["id"], {"user_group_ids": [*user["user_group_ids"], *held]})
    return ids


async def test_import_groups_carries_every_membership(
    client: httpx.AsyncClient, store: SimulatorStore, groups: list[str]
) -> None:
    body = (await client.get("/Groups?startIndex=1&count=100")).json()
    assert body["totalResults"] == 6  # Admin and the five teams
    by_name = {g["displayName"]: g for g in body["Resources"]}
    assert {m["value"] for m in by_name["Admin"]["members"]} == {store.owner_id}
    assert len(by_name["Team 0"]["members"]) == 251
    assert len(by_name["Team 4"]["members"]) == len(range(0, 251, 5))
    member = by_name["Team 1"]["members"][0]
    assert member["type"] == "User"
    held = store.get_user(member["value"])
    assert member["display"] == f"{held['first_name']} {held['last_name']}"  # its displayName
    assert member["$ref"].endswith(f"/Users/{member['value']}")


async def test_group_read_costs_one_call_plus_member_pages(
    client: httpx.AsyncClient, groups: list[str], upstream_calls: Calls
) -> None:
    before = len(upstream_calls())
    body = (await client.get(f"/Groups/{groups[0]}")).json()
    assert len(body["members"]) == 251
    # 251 members at page_size 100: pages of 100, 100, 51.
    assert (
        upstream_calls()[before:]
        == [("GET", f"/user-groups/{groups[0]}")] + [("GET", "/users")] * 3
    )


async def test_excluded_members_are_not_fetched_on_lists(
    client: httpx.AsyncClient, groups: list[str], upstream_calls: Calls
) -> None:
    before = len(upstream_calls())
    body = (await client.get("/Groups?excludedAttributes=members")).json()
    assert all("members" not in g for g in body["Resources"])
    assert upstream_calls()[before:] == [("GET", "/user-groups")]


async def test_filters_on_groups(client: httpx.AsyncClient, groups: list[str]) -> None:
    by_name = (await client.get('/Groups?filter=displayName eq "Team 3"')).json()
    assert [g["id"] for g in by_name["Resources"]] == [groups[3]]
    by_id = (
        await client.get(f'/Groups?filter=id eq "{groups[2]}"&excludedAttributes=members')
    ).json()
    assert [g["id"] for g in by_id["Resources"]] == [groups[2]]
    scanned = (
        await client.get('/Groups?filter=displayName sw "Team"&attributes=displayName')
    ).json()
    assert scanned["totalResults"] == 5
    bad = await client.get('/Groups?filter=members.display eq "x"')
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidFilter"


async def test_group_paging_is_stable(client: httpx.AsyncClient, groups: list[str]) -> None:
    first = (await client.get("/Groups?startIndex=1&count=4&excludedAttributes=members")).json()
    second = (await client.get("/Groups?startIndex=5&count=4&excludedAttributes=members")).json()
    ids = [g["id"] for g in first["Resources"] + second["Resources"]]
    assert len(ids) == len(set(ids)) == 6


async def _admin(client: httpx.AsyncClient) -> str:
    found = (await client.get('/Groups?filter=displayName eq "Admin"')).json()
    return str(found["Resources"][0]["id"])


async def test_the_admin_group_cannot_be_renamed_or_deleted(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    admin = await _admin(client)
    rename = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Admins"}],
    }
    for response in (
        await client.patch(f"/Groups/{admin}", json=rename),
        await client.put(f"/Groups/{admin}", json={"displayName": "Admins", "members": []}),
        await client.delete(f"/Groups/{admin}"),
    ):
        assert response.status_code == 403
        assert "built-in Admin group" in response.json()["detail"]
    assert store.get_group(admin)["name"] == "Admin"
    found, _ = store.list_users(page=1, per_page=10, user_group_id=admin)
    assert [u["id"] for u in found] == [store.owner_id]


async def test_the_admin_groups_membership_can_be_managed(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    admin = await _admin(client)
    user_id = (await client.get('/Users?filter=userName eq "user0001@example.com"')).json()[
        "Resources"
    ][0]["id"]
    add = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "value": {"id": admin, "displayName": "Admin"}},
            {"op": "add", "path": "members", "value": [{"value": user_id}]},
        ],
    }
    assert (await client.patch(f"/Groups/{admin}", json=add)).status_code == 204
    assert admin in store.get_user(user_id)["user_group_ids"]


async def test_the_admin_group_is_never_emptied(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    admin = await _admin(client)
    empty_it = [
        {"op": "remove", "path": "members"},
        {"op": "replace", "path": "members", "value": []},
        {"op": "remove", "path": f'members[value eq "{store.owner_id}"]'},
    ]
    for operation in empty_it:
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation],
        }
        response = await client.patch(f"/Groups/{admin}", json=body)
        assert response.status_code == 403, operation
        assert "lock every administrator out" in response.json()["detail"]
    put = await client.put(f"/Groups/{admin}", json={"displayName": "Admin", "members": []})
    assert put.status_code == 403
    assert admin in store.get_user(store.owner_id)["user_group_ids"]


async def test_a_members_sub_attribute_path_is_invalid_path(
    client: httpx.AsyncClient, groups: list[str]
) -> None:
    for operation in (
        {"op": "add", "path": "members.value", "value": "x"},
        {"op": "add", "value": {"members.value": "x"}},
        {"op": "replace", "path": 'members[value eq "x"].display', "value": "y"},
    ):
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation],
        }
        response = await client.patch(f"/Groups/{groups[0]}", json=body)
        assert response.status_code == 400, operation
        assert response.json()["scimType"] in ("invalidPath", "mutability")


async def test_display_name_lookup_is_exact_as_advertised(
    client: httpx.AsyncClient, groups: list[str]
) -> None:
    assert (await client.get('/Groups?filter=displayName eq "team 1"')).json()["totalResults"] == 0
    schema = (await client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")).json()
    display = next(a for a in schema["attributes"] if a["name"] == "displayName")
    assert display["caseExact"] is True
    assert display["uniqueness"] == "server"


async def test_removing_a_member_who_no_longer_exists_succeeds(
    client: httpx.AsyncClient, store: SimulatorStore, groups: list[str]
) -> None:
    users, _ = store.list_users(page=2, per_page=100)
    gone = users[0]["id"]
    store.delete_user(gone)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "members", "value": [{"value": gone}]}],
    }
    assert (await client.patch(f"/Groups/{groups[0]}", json=body)).status_code == 204
