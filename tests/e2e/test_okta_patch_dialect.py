"""Okta OIN catalog apps (and the "SCIM 2.0 Test App" templates): updates by PATCH."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio


async def _create(client: httpx.AsyncClient) -> str:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    assert created.status_code == 201
    return str(created.json()["id"])


async def test_pathless_deactivate_keeps_the_user_readable(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user"))
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert store.get_user(user_id)["disabled"] is True
    again = await client.get(f"/Users/{user_id}")
    assert again.status_code == 200
    assert again.json()["active"] is False


async def test_pathless_reactivate_restores_the_same_user(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user"))
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-reactivate-user"))
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert response.json()["id"] == user_id
    assert store.get_user(user_id)["disabled"] is False


@pytest.mark.parametrize(
    ("scenario", "password"),
    [
        ("okta/patch-sync-password-pathless", "Pathl3ss!pw"),
        ("okta/patch-sync-password-path", "Pathed!pw9"),
    ],
)
async def test_password_sync_by_patch(
    client: httpx.AsyncClient, store: SimulatorStore, scenario: str, password: str
) -> None:
    user_id = await _create(client)
    response = await client.patch(f"/Users/{user_id}", json=fixture(scenario))
    assert response.status_code == 200
    assert password not in response.text
    assert store.password_of(user_id) == password


async def test_nested_profile_update_changes_names_and_email(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _create(client)
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-update-profile"))
    assert response.status_code == 200
    held = store.get_user(user_id)
    assert held["first_name"] == "Ana Maria"
    assert held["email"] == "ana.maria@example.com"
    # displayName is derived from the names; the value Okta sent is not stored.
    assert response.json()["displayName"] == "Ana Maria Lima"


async def test_a_patch_with_one_bad_operation_changes_nothing(
    client: httpx.AsyncClient,
    store: SimulatorStore,
    upstream_calls: Callable[[], list[tuple[str, str]]],
) -> None:
    user_id = await _create(client)
    before = store.get_user(user_id)
    calls_before = len(upstream_calls())
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-one-bad-operation"))
    assert response.status_code == 400
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["scimType"] == "invalidValue"
    assert store.get_user(user_id) == before
    assert all(method == "GET" for method, _ in upstream_calls()[calls_before:])


async def test_patch_remove_without_path_is_no_target(client: httpx.AsyncClient) -> None:
    user_id = await _create(client)
    response = await client.patch(
        f"/Users/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove"}],
        },
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "noTarget"


async def test_patch_of_an_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/Users/00919288221112222", json=fixture("okta/patch-deactivate-user")
    )
    assert response.status_code == 404


async def test_patch_response_honours_attributes(client: httpx.AsyncClient) -> None:
    user_id = await _create(client)
    response = await client.patch(
        f"/Users/{user_id}?attributes=active",
        json=fixture("okta/patch-deactivate-user"),
    )
    assert response.status_code == 200
    assert set(response.json()) == {"schemas", "id", "active"}


async def test_a_bad_value_error_is_written_for_admins(client: httpx.AsyncClient) -> None:
    user_id = await _create(client)
    response = await client.patch(
        f"/Users/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "password", "value": [1, 2]}],
        },
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "password" in detail
    assert "pydantic" not in detail
    assert "validation error for" not in detail
