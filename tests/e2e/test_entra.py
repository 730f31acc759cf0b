"""Microsoft Entra ID: capitalised ops, string booleans, value-filtered paths, hard deletes."""

from __future__ import annotations

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio

ENTRA_EMAIL = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com"


async def _create(client: httpx.AsyncClient) -> str:
    created = await client.post("/Users", json=fixture("entra/create-user"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_test_connection_with_random_ids_finds_nothing(client: httpx.AsyncClient) -> None:
    for query in (
        'userName eq "8d4e8f2c-57e4-44c5-b9b3-1bd4b2f0d1e9"',
        'emails[type eq "work"].value eq "nobody@contoso.com"',
        'id eq "8d4e8f2c-57e4-44c5-b9b3-1bd4b2f0d1e9"',
    ):
        response = await client.get("/Users", params={"filter": query})
        assert response.status_code == 200, query
        assert response.json()["totalResults"] == 0
        assert response.json()["Resources"] == []


async def test_create_with_the_enterprise_extension_keeps_what_telemetrytv_holds(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    response = await client.post("/Users", json=fixture("entra/create-user"))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.headers["location"] == body["meta"]["location"]
    # TelemetryTV cannot hold these: they are accepted and never echoed as if stored.
    for dropped in (
        "externalId",
        "roles",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ):
        assert dropped not in body
    held = store.get_user(body["id"])
    assert held["email"] == ENTRA_EMAIL
    # A generated password, since Entra sends none.
    password = store.password_of(body["id"])
    assert password is not None
    assert len(password) >= 16


async def test_lookup_by_work_email_filter(client: httpx.AsyncClient) -> None:
    user_id = await _create(client)
    response = await client.get(
        "/Users", params={"filter": f'emails[type eq "work"].value eq "{ENTRA_EMAIL.lower()}"'}
    )
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["Resources"]] == [user_id]


@pytest.mark.parametrize("scenario", ["entra/patch-disable-user", "entra/patch-disable-user-flag"])
async def test_disable_with_string_or_boolean_false(
    client: httpx.AsyncClient, store: SimulatorStore, scenario: str
) -> None:
    user_id = await _create(client)
    response = await client.patch(f"/Users/{user_id}", json=fixture(scenario))
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert store.get_user(user_id)["disabled"] is True


async def test_enable_with_string_true(client: httpx.AsyncClient, store: SimulatorStore) -> None:
    user_id = await _create(client)
    await client.patch(f"/Users/{user_id}", json=fixture("entra/patch-disable-user"))
    response = await client.patch(f"/Users/{user_id}", json=fixture("entra/patch-enable-user"))
    assert response.status_code == 200
    assert store.get_user(user_id)["disabled"] is False


async def test_work_email_path_changes_the_email(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    response = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-update-work-email")
    )
    assert response.status_code == 200
    assert store.get_user(user_id)["email"] == "updatedEmail@contoso.com"


async def test_pathless_replace_with_dotted_keys(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    response = await client.patch(f"/Users/{user_id}", json=fixture("entra/patch-pathless-dotted"))
    assert response.status_code == 200, response.text
    held = store.get_user(user_id)
    assert (held["first_name"], held["last_name"]) == ("Updated", "Person")
    assert held["email"] == "updated.person@contoso.com"
    assert response.json()["displayName"] == "Updated Person"


async def test_add_of_an_attribute_telemetrytv_cannot_hold_is_accepted_and_ignored(
    client: httpx.AsyncClient,
) -> None:
    user_id = await _create(client)
    response = await client.patch(f"/Users/{user_id}", json=fixture("entra/patch-add-nickname"))
    assert response.status_code == 200
    assert "nickName" not in response.json()


async def test_several_operations_apply_together(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    response = await client.patch(
        f"/Users/{user_id}", json=fixture("entra/patch-several-operations")
    )
    assert response.status_code == 200
    held = store.get_user(user_id)
    assert (held["first_name"], held["last_name"], held["disabled"]) == ("Multi", "Op", True)


async def test_hard_delete_then_get_is_404(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    response = await client.delete(f"/Users/{user_id}")
    assert response.status_code == 204
    assert response.content == b""
    missing = await client.get(f"/Users/{user_id}")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    again = await client.delete(f"/Users/{user_id}")
    assert again.status_code == 404
