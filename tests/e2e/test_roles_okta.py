"""Okta Identity Governance: role discovery (/ResourceTypes, /Schemas, /Roles), user import
with roles, and granting and revoking roles with ordinary User operations."""

from __future__ import annotations

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio

ROLE_SCHEMA = "urn:okta:scim:schemas:core:1.0:Role"


@pytest.fixture
def lobby(store: SimulatorStore) -> str:
    """A TelemetryTV user group "Lobby Screens"; its id."""
    return str(store.create_group({"name": "Lobby Screens"})["id"])


def _admin_id(store: SimulatorStore) -> str:
    return str(store.get_user(store.owner_id)["user_group_ids"][0])


async def _create(client: httpx.AsyncClient) -> str:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_discovery_sequence_finds_the_role_type_and_every_group_as_a_role(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    # 1. /ResourceTypes: a type whose schema is Okta's Role URN, and its endpoint.
    types = (await client.get("/ResourceTypes")).json()["Resources"]
    [role_type] = [t for t in types if t["schema"] == ROLE_SCHEMA]
    assert role_type["id"] == role_type["name"] == "Role"
    assert role_type["endpoint"] == "/Roles"
    assert (await client.get("/ResourceTypes/Role")).json()["schema"] == ROLE_SCHEMA
    # 2. /Schemas: Okta knows the Role schema; it is published for RFC clients too.
    schemas = {s["id"] for s in (await client.get("/Schemas")).json()["Resources"]}
    assert ROLE_SCHEMA in schemas
    # 3. The endpoint named: every TelemetryTV user group, as Okta reads roles.
    listed = await client.get("/Roles")
    assert listed.status_code == 200
    body = listed.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    roles = {r["displayName"]: r for r in body["Resources"]}
    assert set(roles) == {"Admin", "Lobby Screens"}
    assert body["totalResults"] == 2
    lobby_role = roles["Lobby Screens"]
    assert lobby_role["schemas"] == [ROLE_SCHEMA]
    assert lobby_role["id"] == lobby
    assert "TelemetryTV user group" in lobby_role["description"]
    assert "full access" in roles["Admin"]["description"]
    assert lobby_role["meta"]["location"].endswith(f"/Roles/{lobby}")


async def test_okta_entitlements_spec_step_pages_one_role(
    client: httpx.AsyncClient, lobby: str
) -> None:
    # Okta's Entitlements test: GET {endpoint}?count=1&startIndex=1, itemsPerPage exactly 1.
    body = (await client.get("/Roles?count=1&startIndex=1")).json()
    assert body["itemsPerPage"] == 1
    assert body["startIndex"] == 1
    assert body["totalResults"] == 2
    assert len(body["Resources"]) == 1


async def test_roles_are_read_by_id_and_found_by_display_name(
    client: httpx.AsyncClient, lobby: str
) -> None:
    one = await client.get(f"/Roles/{lobby}")
    assert one.status_code == 200
    assert one.json()["displayName"] == "Lobby Screens"
    found = (await client.get('/Roles?filter=displayName eq "Lobby Screens"')).json()
    assert [r["id"] for r in found["Resources"]] == [lobby]
    missing = await client.get("/Roles/010101001010101011001010101011")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_roles_are_read_only_and_point_to_groups(
    client: httpx.AsyncClient, lobby: str, method: str
) -> None:
    path = "/Roles" if method == "POST" else f"/Roles/{lobby}"
    response = await client.request(method, path, json={"displayName": "Renamed"})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/scim+json")
    assert "/Groups" in response.json()["detail"]


async def test_user_import_shows_each_group_as_a_role_with_its_name(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    store.update_user(user_id, {"user_group_ids": [lobby]})
    imported = (await client.get("/Users?startIndex=1&count=100")).json()["Resources"]
    by_id = {u["id"]: u for u in imported}
    assert by_id[user_id]["roles"] == [{"value": lobby, "display": "Lobby Screens"}]
    owner = by_id[store.owner_id]
    assert owner["roles"] == [{"value": _admin_id(store), "display": "Admin"}]
    # groups still shows the same memberships, unchanged.
    assert [g["value"] for g in by_id[user_id]["groups"]] == [lobby]


async def test_granting_and_revoking_a_role_changes_the_group_membership(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    values = {"role_id": lobby, "role_name": "Lobby Screens"}
    granted = await client.patch(
        f"/Users/{user_id}", json=fixture("okta/patch-grant-role", **values)
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["roles"] == [{"value": lobby, "display": "Lobby Screens"}]
    assert store.get_user(user_id)["user_group_ids"] == [lobby]
    again = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-grant-role", **values))
    assert again.status_code == 200
    assert store.get_user(user_id)["user_group_ids"] == [lobby]
    revoked = await client.patch(
        f"/Users/{user_id}", json=fixture("okta/patch-revoke-role", **values)
    )
    assert revoked.status_code == 200, revoked.text
    assert "roles" not in revoked.json()
    assert store.get_user(user_id)["user_group_ids"] == []


async def test_aiw_put_sets_exactly_the_roles_and_put_without_roles_keeps_them(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    other = str(store.create_group({"name": "Kitchen TVs"})["id"])
    store.update_user(user_id, {"user_group_ids": [other]})
    values = {"id": user_id, "role_id": lobby, "role_name": "Lobby Screens"}
    put = await client.put(f"/Users/{user_id}", json=fixture("okta/put-with-roles", **values))
    assert put.status_code == 200, put.text
    assert put.json()["roles"] == [{"value": lobby, "display": "Lobby Screens"}]
    assert store.get_user(user_id)["user_group_ids"] == [lobby]
    # A PUT without roles (an app not mapping them) leaves the memberships alone.
    plain = await client.put(
        f"/Users/{user_id}", json=fixture("okta/put-update-profile", id=user_id)
    )
    assert plain.status_code == 200, plain.text
    assert store.get_user(user_id)["user_group_ids"] == [lobby]
    assert store.get_user(user_id)["first_name"] == "Ana Maria"


async def test_a_role_given_by_group_name_is_granted_too(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    values = {"role_id": "Lobby Screens", "role_name": "Lobby Screens"}
    granted = await client.patch(
        f"/Users/{user_id}", json=fixture("okta/patch-grant-role", **values)
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["roles"] == [{"value": lobby, "display": "Lobby Screens"}]


async def test_a_rename_through_groups_shows_in_roles_at_once(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    store.update_user(user_id, {"user_group_ids": [lobby]})
    before = (await client.get(f"/Users/{user_id}")).json()["roles"]
    assert before == [{"value": lobby, "display": "Lobby Screens"}]
    renamed = await client.patch(
        f"/Groups/{lobby}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": lobby, "displayName": "Foyer"}}],
        },
    )
    assert renamed.status_code == 204
    after = (await client.get(f"/Users/{user_id}")).json()["roles"]
    assert after == [{"value": lobby, "display": "Foyer"}]


async def test_an_aiw_put_echoing_its_get_keeps_a_group_pushed_in_between(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    store.update_user(user_id, {"user_group_ids": [lobby]})
    # Okta's AIW update: GET the user, change a profile field, PUT everything back.
    read = (await client.get(f"/Users/{user_id}")).json()
    assert read["roles"] == [{"value": lobby, "display": "Lobby Screens"}]
    pushed = str(store.create_group({"name": "Pushed Meanwhile"})["id"])
    store.update_user(user_id, {"user_group_ids": [lobby, pushed]})
    body = {**read, "name": {"givenName": "Ana Maria", "familyName": "Lima"}}
    response = await client.put(f"/Users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    held = store.get_user(user_id)
    assert held["first_name"] == "Ana Maria"
    assert held["user_group_ids"] == [lobby, pushed]
    # A PUT whose roles differ from its groups is a change: exactly those roles.
    body = {**read, "roles": []}
    response = await client.put(f"/Users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    assert store.get_user(user_id)["user_group_ids"] == []


async def test_roles_follow_attribute_selection(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    user_id = await _create(client)
    store.update_user(user_id, {"user_group_ids": [lobby]})
    only = (await client.get(f"/Users/{user_id}?attributes=roles")).json()
    assert only["roles"] == [{"value": lobby, "display": "Lobby Screens"}]
    assert "userName" not in only
    without = (await client.get(f"/Users/{user_id}?excludedAttributes=roles")).json()
    assert "roles" not in without
    assert [g["value"] for g in without["groups"]] == [lobby]
    role_names = (await client.get("/Roles?attributes=displayName")).json()["Resources"]
    assert {r["displayName"] for r in role_names} == {"Admin", "Lobby Screens"}
    assert all("description" not in r for r in role_names)
