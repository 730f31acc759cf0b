"""``[roles] enabled = false``: no /Roles, no roles in discovery or on users, roles in
writes dropped like any unknown attribute (groups are then managed by push only)."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from scim_proxy.ops.config import Settings, load_settings
from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture, proxy_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings() -> Settings:
    """Roles turned off."""
    return proxy_settings().replace("roles", enabled=False)


@pytest.fixture
def lobby(store: SimulatorStore) -> str:
    return str(store.create_group({"name": "Lobby Screens"})["id"])


def test_the_setting_reads_from_the_environment() -> None:
    assert load_settings(environ={}).roles.enabled is True
    off = load_settings(environ={"SCIM_PROXY_ROLES_ENABLED": "false"})
    assert off.roles.enabled is False


async def test_discovery_publishes_no_roles(client: httpx.AsyncClient) -> None:
    types = (await client.get("/ResourceTypes")).json()["Resources"]
    assert {t["name"] for t in types} == {"User", "Group"}
    assert (await client.get("/ResourceTypes/Role")).status_code == 404
    schemas = (await client.get("/Schemas")).json()["Resources"]
    assert {s["id"] for s in schemas} == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    }
    [user] = [s for s in schemas if s["id"].endswith(":User")]
    assert "roles" not in {a["name"] for a in user["attributes"]}
    one = (await client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")).json()
    assert "roles" not in {a["name"] for a in one["attributes"]}


@pytest.mark.parametrize("path", ["/Roles", "/roles"])
async def test_roles_endpoint_is_not_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


async def test_users_carry_no_roles_and_roles_sent_are_ignored(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    body = fixture("entra/create-user-app-roles-complex")
    created = await client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert store.get_user(user_id)["user_group_ids"] == []
    assert "roles" not in created.json()
    patched = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-add-app-role", role="Lobby Screens")
    )
    assert patched.status_code == 200
    assert store.get_user(user_id)["user_group_ids"] == []
    store.update_user(user_id, {"user_group_ids": [lobby]})
    read = (await client.get(f"/Users/{user_id}")).json()
    assert "roles" not in read
    assert [g["value"] for g in read["groups"]] == [lobby]
    owner = (await client.get(f"/Users/{store.owner_id}")).json()
    assert "roles" not in owner


async def test_roles_sent_while_disabled_are_reported_once_as_ignored(
    client: httpx.AsyncClient, store: SimulatorStore, lobby: str
) -> None:
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    grant = fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby Screens")
    put = fixture("okta/put-with-roles", id=created["id"], role_id=lobby, role_name="Lobby Screens")
    with capture_logs() as logs:
        patched = await client.patch(f"/Users/{created['id']}", json=grant)
        replaced = await client.put(f"/Users/{created['id']}", json=put)
    assert patched.status_code == replaced.status_code == 200
    assert store.get_user(created["id"])["user_group_ids"] == []
    patch_outcome, put_outcome = [e for e in logs if e["event"] == "request"]
    assert patch_outcome["quirks"] == ["roles_disabled_ignored"]
    assert sorted(put_outcome["quirks"]) == [
        "roles_disabled_ignored",
        "unstorable_attribute_dropped",  # displayName, which is not a role
    ]
    [dropped] = [e for e in logs if e["event"] == "attributes_dropped"]
    assert dropped["attributes"] == ["displayName"]
