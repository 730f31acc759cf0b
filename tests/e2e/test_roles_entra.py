"""Microsoft Entra ID: app role assignments provisioned as roles (value = group name).

POST with ``AppRoleAssignmentsComplex`` roles (string booleans), PATCH add and remove on
``roles`` (also with the value as a JSON string, as Entra sends it without the
``aadOptscim062020`` flag), ``SingleAppRoleAssignment``'s ``roles[primary eq "True"]``,
unknown and duplicate roles, and the Admin group as a role.
"""

from __future__ import annotations

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio

RITA = "Rita_Okafor_5c3e0e8a@contoso.com"


@pytest.fixture
def groups(store: SimulatorStore) -> dict[str, str]:
    """The TelemetryTV groups the Entra app roles are named after: name -> id."""
    names = ("Lobby Screens", "Content Editors", "Kitchen TVs")
    return {name: str(store.create_group({"name": name})["id"]) for name in names}


async def _create(client: httpx.AsyncClient, body: dict[str, object] | None = None) -> str:
    created = await client.post("/Users", json=body or fixture("entra/create-user"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _held(store: SimulatorStore, user_id: str) -> set[str]:
    return set(store.get_user(user_id)["user_group_ids"])


async def test_post_with_app_role_assignments_complex_creates_the_user_in_those_groups(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    response = await client.post("/Users", json=fixture("entra/create-user-app-roles-complex"))
    assert response.status_code == 201, response.text
    body = response.json()
    wanted = {groups["Lobby Screens"], groups["Content Editors"]}
    assert _held(store, body["id"]) == wanted
    assert {(r["value"], r["display"]) for r in body["roles"]} == {
        (groups["Lobby Screens"], "Lobby Screens"),
        (groups["Content Editors"], "Content Editors"),
    }


async def test_patch_adds_and_removes_an_app_role(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    user_id = await _create(client)
    added = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-add-app-role", role="Kitchen TVs")
    )
    assert added.status_code == 200, added.text
    assert _held(store, user_id) == {groups["Kitchen TVs"]}
    removed = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-remove-app-role", role="Kitchen TVs")
    )
    assert removed.status_code == 200, removed.text
    assert _held(store, user_id) == set()
    # Removing a role the user does not hold is done already: 200, nothing written.
    again = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-remove-app-role", role="Kitchen TVs")
    )
    assert again.status_code == 200


async def test_patch_add_with_the_role_as_a_json_string(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    user_id = await _create(client)
    response = await client.patch(
        f"/Users/{user_id}",
        json=fixture("entra/patch-add-app-role-json-string", role="Kitchen TVs"),
    )
    assert response.status_code == 200, response.text
    assert _held(store, user_id) == {groups["Kitchen TVs"]}


async def test_single_app_role_assignment_makes_it_the_users_one_role(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    user_id = await _create(client)
    store.update_user(user_id, {"user_group_ids": [groups["Lobby Screens"]]})
    response = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-single-app-role", role="Content Editors")
    )
    assert response.status_code == 200, response.text
    assert _held(store, user_id) == {groups["Content Editors"]}


async def test_an_unknown_role_is_a_400_naming_it_and_nothing_is_written(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    users_before = store.user_count
    body = fixture("entra/create-user-app-roles-complex")
    body["roles"].append({"primary": "False", "value": "Night Shift"})
    refused = await client.post("/Users", json=body)
    assert refused.status_code == 400
    assert refused.json()["scimType"] == "invalidValue"
    assert "'Night Shift'" in refused.json()["detail"]
    assert store.user_count == users_before  # no user created without its roles

    user_id = await _create(client)
    patch = fixture("entra/patch-add-app-role", role="Kitchen TVs")
    patch["Operations"].append({"op": "Add", "path": "roles", "value": [{"value": "Night Shift"}]})
    patch["Operations"].append({"op": "Replace", "path": "name.givenName", "value": "Renamed"})
    response = await client.patch(f"/Users/{user_id}", json=patch)
    assert response.status_code == 400
    assert "'Night Shift'" in response.json()["detail"]
    held = store.get_user(user_id)
    assert held["user_group_ids"] == []  # not even the known role
    assert held["first_name"] == "givenName"  # nor the rest of the request


async def test_the_same_role_twice_in_one_request_is_harmless(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    body = fixture("entra/create-user-app-roles-complex")
    lobby = groups["Lobby Screens"]
    body["roles"] = [{"value": "Lobby Screens"}, {"value": "Lobby Screens"}, {"value": lobby}]
    created = await client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    assert store.get_user(created.json()["id"])["user_group_ids"] == [lobby]
    assert created.json()["roles"] == [{"value": lobby, "display": "Lobby Screens"}]


async def test_the_admin_group_can_be_granted_and_revoked_as_a_role(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    granted = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-add-app-role", role="Admin")
    )
    assert granted.status_code == 200, granted.text
    admin = str(store.get_user(store.owner_id)["user_group_ids"][0])
    assert _held(store, user_id) == {admin}
    # The owner is still in Admin: revoking this user's Admin role is allowed.
    revoked = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-remove-app-role", role="Admin")
    )
    assert revoked.status_code == 200, revoked.text
    assert _held(store, user_id) == set()


async def test_revoking_admin_from_its_last_member_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, store: SimulatorStore, groups: dict[str, str]
) -> None:
    owner = store.owner_id
    admin = str(store.get_user(owner)["user_group_ids"][0])
    patch = fixture("entra/patch-remove-app-role", role="Admin")
    patch["Operations"].append({"op": "Add", "path": "roles", "value": [{"value": "Kitchen TVs"}]})
    refused = await client.patch(f"/Users/{owner}", json=patch)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/scim+json")
    detail = refused.json()["detail"]
    assert "built-in Admin group" in detail
    assert "last member" in detail
    assert store.get_user(owner)["user_group_ids"] == [admin]
    # Setting the roles to exactly others (a replace, or a PUT) is refused the same way.
    replace = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "roles", "value": [{"value": "Kitchen TVs"}]}],
    }
    assert (await client.patch(f"/Users/{owner}", json=replace)).status_code == 403
    assert store.get_user(owner)["user_group_ids"] == [admin]
