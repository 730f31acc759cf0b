"""``users.deactivation = "delete"``: deactivating deletes the TelemetryTV user."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.ops.config import Deactivation, Settings
from scim_proxy.simulator import SimulatorStore
from tests.conftest import UPSTREAM, fixture

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings() -> Settings:
    """Deactivation mapped to deletion."""
    return (
        Settings()
        .replace("upstream", base_url=UPSTREAM)
        .replace("users", deactivation=Deactivation.delete)
    )


@pytest.mark.parametrize("dialect", ["patch", "put"])
async def test_deactivation_deletes_the_user(
    client: httpx.AsyncClient, store: SimulatorStore, dialect: str
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    count = store.user_count
    if dialect == "patch":
        response = await client.patch(
            f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user")
        )
    else:
        response = await client.put(
            f"/Users/{user_id}", json=fixture("okta/put-deactivate-user", id=user_id)
        )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert store.user_count == count - 1
    assert (await client.get(f"/Users/{user_id}")).status_code == 404


async def test_profile_updates_still_apply_in_delete_mode(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-update-profile"))
    assert response.status_code == 200
    assert store.get_user(user_id)["first_name"] == "Ana Maria"


async def test_a_password_sync_keeps_a_user_disabled_upstream(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Callable[[], list[object]]
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    store.update_user(user_id, {"disabled": True})  # disabled in TelemetryTV itself
    before = len(upstream_calls())
    response = await client.patch(
        f"/Users/{user_id}", json=fixture("okta/patch-sync-password-pathless")
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert store.get_user(user_id)["disabled"] is True  # not deleted
    assert len(upstream_calls()) - before == 1  # no deactivation involved: straight to the write


async def test_deactivation_in_delete_mode_still_reads_first(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Callable[[], list[object]]
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    before = len(upstream_calls())
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user"))
    assert response.status_code == 200, response.text
    assert response.json()["name"]["givenName"] == created.json()["name"]["givenName"]
    assert [m for m, _ in upstream_calls()[before:]] == ["GET", "DELETE"]


async def _disabled_user(client: httpx.AsyncClient, store: SimulatorStore, how: str) -> str:
    """A user disabled upstream before the request under test: created inactive (which
    disables rather than deletes) or disabled in TelemetryTV itself."""
    body = fixture("okta/create-user")
    if how == "created inactive":
        body["active"] = False
    created = await client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    user_id = str(created.json()["id"])
    if how == "disabled in TelemetryTV":
        store.update_user(user_id, {"disabled": True})
    assert store.get_user(user_id)["disabled"] is True
    return user_id


@pytest.mark.parametrize("how", ["created inactive", "disabled in TelemetryTV"])
async def test_a_role_grant_to_a_user_already_disabled_is_written(
    client: httpx.AsyncClient, store: SimulatorStore, how: str
) -> None:
    lobby = str(store.create_group({"name": "Lobby Screens"})["id"])
    user_id = await _disabled_user(client, store, how)
    response = await client.patch(
        f"/Users/{user_id}",
        json=fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby Screens"),
    )
    assert response.status_code == 200, response.text
    assert store.get_user(user_id)["user_group_ids"] == [lobby]
    assert store.get_user(user_id)["disabled"] is True  # granting a role deletes no one
    assert [r["value"] for r in response.json()["roles"]] == [lobby]


@pytest.mark.parametrize("how", ["created inactive", "disabled in TelemetryTV"])
async def test_a_profile_and_role_patch_to_a_user_already_disabled_writes_both(
    client: httpx.AsyncClient, store: SimulatorStore, how: str
) -> None:
    lobby = str(store.create_group({"name": "Lobby Screens"})["id"])
    user_id = await _disabled_user(client, store, how)
    body = fixture("entra/patch-profile-and-app-role", given_name="Ana Maria", role="Lobby Screens")
    response = await client.patch(f"/Users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    held = store.get_user(user_id)
    assert held["first_name"] == "Ana Maria"
    assert held["user_group_ids"] == [lobby]
    assert held["disabled"] is True


async def test_a_deactivation_with_a_role_grant_deletes_and_writes_no_role(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Callable[[], list[object]]
) -> None:
    lobby = str(store.create_group({"name": "Lobby Screens"})["id"])
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    body = fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby Screens")
    body["Operations"] += fixture("okta/patch-deactivate-user")["Operations"]
    count = store.user_count
    before = len(upstream_calls())
    response = await client.patch(f"/Users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert store.user_count == count - 1
    methods = [m for m, _ in upstream_calls()[before:]]
    assert methods[-1] == "DELETE"  # deleted by this request: no membership write follows
