"""The /user-groups contract: CRUD, name rules, the built-in Admin group, cascade on delete."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import Sim

pytestmark = pytest.mark.anyio

NOT_FOUND = {"error": "User group not found"}
BUILT_IN = {"error": "Built-in groups cannot be renamed or deleted"}
TAKEN = {"error": "Name has already been taken"}


async def test_admin_group_exists_from_the_start(sim: Sim) -> None:
    response = await sim.client.get("/user-groups")
    assert response.headers["Total-Records-Count"] == "1"
    [admin] = response.json()
    assert admin["id"] == sim.store.admin_group_id
    assert admin["name"] == "Admin"
    assert admin["built_in"] is True
    assert set(admin) == {"id", "name", "built_in", "created_at", "updated_at"}


async def test_create_returns_201_group(sim: Sim) -> None:
    response = await sim.client.post("/user-groups", json={"name": "Editors", "extra": 1})
    assert response.status_code == 201
    group = response.json()
    assert group["name"] == "Editors"
    assert group["built_in"] is False
    assert group["created_at"] == group["updated_at"]
    assert (await sim.client.get(f"/user-groups/{group['id']}")).json() == group


async def test_list_is_in_creation_order_and_pages(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(default_per_page=2)
    created = [await sim.create_group(f"G{n}") for n in range(3)]
    first = await sim.client.get("/user-groups")
    second = await sim.client.get("/user-groups", params={"page": "2"})
    ids = [g["id"] for g in first.json() + second.json()]
    assert ids == [sim.store.admin_group_id, *(g["id"] for g in created)]
    assert first.headers["Total-Records-Count"] == "4"


async def test_name_filter_is_exact_and_case_sensitive(sim: Sim) -> None:
    editors = await sim.create_group("Editors")
    await sim.create_group("editors")
    exact = await sim.client.get("/user-groups", params={"name": "Editors"})
    assert exact.json() == [editors]
    assert exact.headers["Total-Records-Count"] == "1"
    for near_miss in ("EDITORS", "Editor", "Editors "):
        assert (await sim.client.get("/user-groups", params={"name": near_miss})).json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "is required"),
        ({"name": None}, "must be a string"),
        ({"name": 7}, "must be a string"),
        ({"name": ""}, "can't be blank"),
        ({"name": "   "}, "can't be blank"),
        ({"name": "x" * 256}, "is too long (maximum is 255 characters)"),
    ],
)
async def test_create_rejects_invalid_name(sim: Sim, body: dict[str, object], message: str) -> None:
    response = await sim.client.post("/user-groups", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "Validation error", "fields": [{"name": message}]}


async def test_duplicate_name_is_rejected_exactly(sim: Sim) -> None:
    await sim.create_group("Editors")
    for name in ("Editors", "Admin"):
        response = await sim.client.post("/user-groups", json={"name": name})
        assert response.status_code == 409
        assert response.json() == TAKEN
    await sim.create_group("EDITORS")  # case differs: a different name


async def test_rename_changes_name_and_bumps_updated_at(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    response = await sim.client.patch(f"/user-groups/{group['id']}", json={"name": "Writers"})
    assert response.status_code == 200
    renamed = response.json()
    assert renamed["name"] == "Writers"
    assert renamed["updated_at"] > group["updated_at"]
    assert (await sim.client.get("/user-groups", params={"name": "Editors"})).json() == []
    await sim.create_group("Editors")  # the old name is free again


async def test_renaming_to_its_own_name_is_fine(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    response = await sim.client.patch(f"/user-groups/{group['id']}", json={"name": "Editors"})
    assert response.status_code == 200
    assert response.json()["name"] == "Editors"


async def test_renaming_to_a_taken_name_is_rejected(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    await sim.create_group("Writers")
    response = await sim.client.patch(f"/user-groups/{group['id']}", json={"name": "Writers"})
    assert response.status_code == 409
    assert response.json() == TAKEN


async def test_patch_without_name_changes_nothing(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    response = await sim.client.patch(f"/user-groups/{group['id']}", json={})
    assert response.json() == group


async def test_invalid_rename_is_a_validation_error(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    response = await sim.client.patch(f"/user-groups/{group['id']}", json={"name": " "})
    assert response.status_code == 400
    assert response.json() == {"error": "Validation error", "fields": [{"name": "can't be blank"}]}


async def test_built_in_group_cannot_be_renamed_or_deleted(sim: Sim) -> None:
    url = f"/user-groups/{sim.store.admin_group_id}"
    before = (await sim.client.get(url)).json()
    renamed = await sim.client.patch(url, json={"name": "Admins"})
    deleted = await sim.client.delete(url)
    assert (renamed.status_code, renamed.json()) == (403, BUILT_IN)
    assert (deleted.status_code, deleted.json()) == (403, BUILT_IN)
    assert (await sim.client.get(url)).json() == before


async def test_resending_the_built_in_groups_own_name_is_a_no_op(sim: Sim) -> None:
    url = f"/user-groups/{sim.store.admin_group_id}"
    before = (await sim.client.get(url)).json()
    response = await sim.client.patch(url, json={"name": "Admin"})
    assert response.status_code == 200
    assert response.json() == before


async def test_delete_removes_the_group_id_from_every_user(sim: Sim) -> None:
    doomed, kept = await sim.create_group("Doomed"), await sim.create_group("Kept")
    member = await sim.create_user("m@example.com", user_group_ids=[doomed["id"], kept["id"]])
    outsider = await sim.create_user("o@example.com", user_group_ids=[kept["id"]])
    response = await sim.client.delete(f"/user-groups/{doomed['id']}")
    assert response.status_code == 204
    assert response.content == b""
    member_after = (await sim.client.get(f"/users/{member['id']}")).json()
    assert member_after["user_group_ids"] == [kept["id"]]
    assert member_after["updated_at"] > member["updated_at"]
    assert (await sim.client.get(f"/users/{outsider['id']}")).json() == outsider
    assert (await sim.client.get(f"/user-groups/{doomed['id']}")).json() == NOT_FOUND
    filtered = await sim.client.get("/users", params={"user_group_id": doomed["id"]})
    assert filtered.json() == []
    await sim.create_group("Doomed")  # the name is free again


async def test_deleted_group_id_cannot_be_assigned(sim: Sim) -> None:
    group = await sim.create_group("Temp")
    await sim.client.delete(f"/user-groups/{group['id']}")
    response = await sim.client.post(
        "/users",
        json={"email": "x@example.com", "password": "long enough", "user_group_ids": [group["id"]]},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "group_id", ["ffffffffffffffffffffffff", "010101001010101011001010101011", "00919288221112222"]
)
async def test_unknown_or_malformed_group_id_is_404(sim: Sim, method: str, group_id: str) -> None:
    response = await sim.client.request(method, f"/user-groups/{group_id}", json={"name": "X"})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_user_id_is_not_a_group_id(sim: Sim) -> None:
    response = await sim.client.get(f"/user-groups/{sim.store.owner_id}")
    assert response.json() == NOT_FOUND
