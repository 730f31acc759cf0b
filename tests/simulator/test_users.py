"""The /users contract: listing, paging, filters, create/update/delete and their errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Sim

pytestmark = pytest.mark.anyio

NOT_FOUND = {"error": "User not found"}
MALFORMED_IDS = ["010101001010101011001010101011", "00919288221112222", "not-an-id"]


def validation(*fields: dict[str, str]) -> dict[str, Any]:
    return {"error": "Validation error", "fields": list(fields)}


async def test_owner_exists_from_the_start_in_the_admin_group(sim: Sim) -> None:
    response = await sim.client.get(f"/users/{sim.store.owner_id}")
    assert response.status_code == 200
    owner = response.json()
    assert owner["email"] == "owner@example.com"
    assert (owner["first_name"], owner["last_name"]) == ("Account", "Owner")
    assert owner["user_group_ids"] == [sim.store.admin_group_id]
    assert owner["disabled"] is False
    assert sim.store.password_of(owner["id"])


async def test_owner_email_is_configurable(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(owner_email="boss@corp.example")
    response = await sim.client.get("/users", params={"email": "BOSS@corp.example"})
    assert [user["id"] for user in response.json()] == [sim.store.owner_id]


async def test_user_object_has_exactly_the_contract_fields(sim: Sim) -> None:
    created = await sim.create_user("ada@example.com")
    fetched = (await sim.client.get(f"/users/{created['id']}")).json()
    assert fetched == created
    assert set(fetched) == {
        "id",
        "email",
        "first_name",
        "last_name",
        "user_group_ids",
        "disabled",
        "created_at",
        "updated_at",
    }


async def test_seeded_users_are_deterministic(make_sim: Callable[..., Sim]) -> None:
    first = (await make_sim(users=3).client.get("/users")).json()
    second = (await make_sim(users=3).client.get("/users")).json()
    emails = [user["email"] for user in first]
    assert emails == [
        "owner@example.com",
        "user0001@example.com",
        "user0002@example.com",
        "user0003@example.com",
    ]
    names = [(user["first_name"], user["last_name"]) for user in first]
    assert names == [(user["first_name"], user["last_name"]) for user in second]
    assert all(user["first_name"] and user["last_name"] for user in first)
    assert all(not user["disabled"] and not user["user_group_ids"] for user in first[1:])


async def test_seeded_emails_pad_to_four_digits_at_least(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(users=10_000, default_per_page=1000)
    last = (await sim.client.get("/users", params={"page": "11"})).json()
    assert last[-1]["email"] == "user10000@example.com"
    assert sim.store.password_of(last[-1]["id"]) == "Passw0rd!seed"


async def test_list_is_a_bare_array_in_creation_order_with_total_header(sim: Sim) -> None:
    created = [await sim.create_user(f"u{n}@example.com") for n in range(3)]
    response = await sim.client.get("/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Total-Records-Count"] == "4"
    ids = [user["id"] for user in response.json()]
    assert ids == [sim.store.owner_id, *(user["id"] for user in created)]
    assert ids == sorted(ids)


async def test_paging_slices_the_list_and_past_the_end_is_empty(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(users=9)  # 10 users with the owner
    everyone = (await sim.client.get("/users")).json()
    pages = [
        (await sim.client.get("/users", params={"page": str(page), "per_page": "4"})).json()
        for page in (1, 2, 3, 4)
    ]
    assert [len(page) for page in pages] == [4, 4, 2, 0]
    assert [user for page in pages for user in page] == everyone
    beyond = await sim.client.get("/users", params={"page": "99", "per_page": "4"})
    assert beyond.json() == []
    assert beyond.headers["Total-Records-Count"] == "10"


async def test_per_page_defaults_and_is_capped(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(users=20, default_per_page=3, max_per_page=7)
    assert len((await sim.client.get("/users")).json()) == 3
    capped = await sim.client.get("/users", params={"per_page": "1000"})
    assert len(capped.json()) == 7
    assert capped.headers["Total-Records-Count"] == "21"


async def test_paging_header_can_be_switched_off(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(paging_header=False)
    users = await sim.client.get("/users")
    groups = await sim.client.get("/user-groups")
    assert "Total-Records-Count" not in users.headers
    assert "Total-Records-Count" not in groups.headers
    assert len(users.json()) == 1


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5", "²", " 2", "1e3", "9" * 5000])
@pytest.mark.parametrize("parameter", ["page", "per_page"])
@pytest.mark.parametrize("path", ["/users", "/user-groups"])
async def test_invalid_paging_parameter_is_a_validation_error(
    sim: Sim, value: str, parameter: str, path: str
) -> None:
    response = await sim.client.get(path, params={parameter: value})
    assert response.status_code == 400
    assert response.json() == validation({parameter: "must be a positive integer"})


async def test_both_paging_parameters_invalid_are_both_reported(sim: Sim) -> None:
    response = await sim.client.get("/users", params={"page": "x", "per_page": "0"})
    assert response.json() == validation(
        {"page": "must be a positive integer"}, {"per_page": "must be a positive integer"}
    )


async def test_email_filter_is_exact_and_case_insensitive(sim: Sim) -> None:
    ada = await sim.create_user("Ada.Lovelace@Example.com")
    await sim.create_user("ada@example.com")
    response = await sim.client.get("/users", params={"email": "ada.lovelace@EXAMPLE.COM"})
    assert response.json() == [ada]
    assert response.headers["Total-Records-Count"] == "1"
    for near_miss in ("lovelace@example.com", "Ada.Lovelace@Example", ""):
        missed = await sim.client.get("/users", params={"email": near_miss})
        assert missed.json() == []
        assert missed.headers["Total-Records-Count"] == "0"


async def test_user_group_id_filter_lists_members_in_id_order(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    early = await sim.create_user("early@example.com")
    members = [
        await sim.create_user(f"m{n}@example.com", user_group_ids=[group["id"]]) for n in range(3)
    ]
    await sim.create_user("outsider@example.com")
    # A user created before the others but joining last still lists first (id order).
    await sim.client.patch(f"/users/{early['id']}", json={"user_group_ids": [group["id"]]})
    response = await sim.client.get("/users", params={"user_group_id": group["id"]})
    expected = [early["id"], *(user["id"] for user in members)]
    assert [user["id"] for user in response.json()] == expected
    assert response.headers["Total-Records-Count"] == "4"
    paged = await sim.client.get(
        "/users", params={"user_group_id": group["id"], "page": "2", "per_page": "3"}
    )
    assert [user["id"] for user in paged.json()] == [members[-1]["id"]]
    assert paged.headers["Total-Records-Count"] == "4"


async def test_email_and_group_filters_combine(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    member = await sim.create_user("in@example.com", user_group_ids=[group["id"]])
    await sim.create_user("out@example.com")
    both = {"user_group_id": group["id"]}
    hit = await sim.client.get("/users", params={**both, "email": "IN@example.com"})
    miss = await sim.client.get("/users", params={**both, "email": "out@example.com"})
    assert hit.json() == [member]
    assert miss.json() == []
    assert miss.headers["Total-Records-Count"] == "0"


@pytest.mark.parametrize("group_id", ["ffffffffffffffffffffffff", "nonsense"])
async def test_filter_by_unknown_group_is_empty_not_404(sim: Sim, group_id: str) -> None:
    response = await sim.client.get("/users", params={"user_group_id": group_id})
    assert response.status_code == 200
    assert response.json() == []


async def test_create_returns_201_user_and_never_the_password(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    body = {
        "email": "Grace@Example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "password": "cobol-1959",
        "user_group_ids": [group["id"]],
        "disabled": True,
        "role": "ignored unknown key",
    }
    response = await sim.client.post("/users", json=body)
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == "Grace@Example.com"  # case preserved
    assert (user["first_name"], user["last_name"]) == ("Grace", "Hopper")
    assert user["user_group_ids"] == [group["id"]]
    assert user["disabled"] is True
    assert "password" not in user
    assert "role" not in user
    assert "cobol-1959" not in response.text
    assert sim.store.password_of(user["id"]) == "cobol-1959"
    assert user["created_at"] == user["updated_at"]


async def test_create_defaults_optional_fields(sim: Sim) -> None:
    user = await sim.create_user("min@example.com")
    assert (user["first_name"], user["last_name"]) == ("", "")
    assert user["user_group_ids"] == []
    assert user["disabled"] is False


async def test_create_deduplicates_group_ids_keeping_order(sim: Sim) -> None:
    a, b = await sim.create_group("A"), await sim.create_group("B")
    user = await sim.create_user("x@example.com", user_group_ids=[b["id"], a["id"], b["id"]])
    assert user["user_group_ids"] == [b["id"], a["id"]]


async def test_create_requires_email_and_password(sim: Sim) -> None:
    response = await sim.client.post("/users", json={"first_name": "Nobody"})
    assert response.status_code == 400
    assert response.json() == validation({"email": "is required"}, {"password": "is required"})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", 42, "must be a string"),
        ("email", None, "must be a string"),
        ("email", "", "can't be blank"),
        ("email", "no-at-sign.example.com", "is not a valid email address"),
        ("email", "two@@example.com", "is not a valid email address"),
        ("email", "a@b@example.com", "is not a valid email address"),
        ("email", "@example.com", "is not a valid email address"),
        ("email", "someone@localhost", "is not a valid email address"),
        ("email", "someone@example.", "is not a valid email address"),
        ("email", "some one@example.com", "is not a valid email address"),
        ("email", "x" * 243 + "@example.com", "is too long (maximum is 254 characters)"),
        ("password", "short", "is too short (minimum is 8 characters)"),
        ("password", "", "is too short (minimum is 8 characters)"),
        ("password", 12345678, "must be a string"),
        ("first_name", None, "must be a string"),
        ("first_name", "x" * 256, "is too long (maximum is 255 characters)"),
        ("last_name", ["Hopper"], "must be a string"),
        ("user_group_ids", "abc", "must be an array of strings"),
        ("user_group_ids", [1, 2], "must be an array of strings"),
        ("user_group_ids", None, "must be an array of strings"),
        ("disabled", "true", "must be a boolean"),
        ("disabled", 1, "must be a boolean"),
    ],
)
async def test_create_rejects_invalid_field(
    sim: Sim, field: str, value: object, message: str
) -> None:
    body = {"email": "valid@example.com", "password": "long enough", field: value}
    response = await sim.client.post("/users", json=body)
    assert response.status_code == 400
    assert response.json() == validation({field: message})
    assert sim.store.user_count == 1


async def test_longest_allowed_values_are_accepted(sim: Sim) -> None:
    email = "x" * 242 + "@example.com"
    assert len(email) == 254
    user = await sim.create_user(email, first_name="f" * 255, last_name="l" * 255)
    assert user["email"] == email


async def test_create_with_unknown_group_id_is_rejected(sim: Sim) -> None:
    group = await sim.create_group("Real")
    body = {
        "email": "x@example.com",
        "password": "long enough",
        "user_group_ids": [group["id"], "ffffffffffffffffffffffff"],
    }
    response = await sim.client.post("/users", json=body)
    assert response.status_code == 400
    assert response.json() == validation(
        {"user_group_ids": "contains unknown user group ids: ffffffffffffffffffffffff"}
    )


async def test_every_failing_field_is_reported_in_one_response(sim: Sim) -> None:
    body = {"email": "bad", "password": "short", "disabled": "no"}
    response = await sim.client.post("/users", json=body)
    assert response.json()["fields"] == [
        {"email": "is not a valid email address"},
        {"password": "is too short (minimum is 8 characters)"},
        {"disabled": "must be a boolean"},
    ]


async def test_duplicate_email_is_rejected_case_insensitively(sim: Sim) -> None:
    await sim.create_user("Taken@Example.com")
    for email in ("taken@example.com", "TAKEN@EXAMPLE.COM", "owner@EXAMPLE.com"):
        body = {"email": email, "password": "long enough"}
        response = await sim.client.post("/users", json=body)
        assert response.status_code == 409
        assert response.json() == {"error": "Email has already been taken"}
    assert sim.store.user_count == 2


async def test_user_limit_blocks_creates_and_counts_the_owner(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(user_limit=3, users=1)
    extra = await sim.create_user("third@example.com")
    response = await sim.client.post(
        "/users", json={"email": "fourth@example.com", "password": "long enough"}
    )
    assert response.status_code == 403
    assert response.json() == {"error": "Your plan's user limit (3 users) has been reached"}
    assert (await sim.client.delete(f"/users/{extra['id']}")).status_code == 204
    await sim.create_user("fourth@example.com")


async def test_invalid_create_at_the_user_limit_still_reports_validation(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(user_limit=1)
    response = await sim.client.post("/users", json={"email": "bad"})
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("user_id", ["ffffffffffffffffffffffff", *MALFORMED_IDS])
async def test_unknown_or_malformed_user_id_is_404(sim: Sim, method: str, user_id: str) -> None:
    response = await sim.client.request(method, f"/users/{user_id}", json={"first_name": "X"})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_group_id_is_not_a_user_id(sim: Sim) -> None:
    response = await sim.client.get(f"/users/{sim.store.admin_group_id}")
    assert response.status_code == 404


async def test_patch_changes_only_the_sent_fields_and_bumps_updated_at(sim: Sim) -> None:
    user = await sim.create_user("ada@example.com", first_name="Ada", last_name="Byron")
    response = await sim.client.patch(f"/users/{user['id']}", json={"last_name": "Lovelace"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["last_name"] == "Lovelace"
    assert updated["first_name"] == "Ada"
    assert updated["email"] == "ada@example.com"
    assert updated["created_at"] == user["created_at"]
    assert updated["updated_at"] > user["updated_at"]
    assert (await sim.client.get(f"/users/{user['id']}")).json() == updated


async def test_patch_with_empty_body_changes_nothing(sim: Sim) -> None:
    user = await sim.create_user("ada@example.com")
    for body in ({}, {"unknown": "key"}):
        response = await sim.client.patch(f"/users/{user['id']}", json=body)
        assert response.status_code == 200
        assert response.json() == user


async def test_patch_password_is_stored_and_never_returned(sim: Sim) -> None:
    user = await sim.create_user("ada@example.com")
    response = await sim.client.patch(f"/users/{user['id']}", json={"password": "new secret!"})
    assert "password" not in response.json()
    assert sim.store.password_of(user["id"]) == "new secret!"


async def test_patch_disables_and_reenables(sim: Sim) -> None:
    user = await sim.create_user("ada@example.com")
    url = f"/users/{user['id']}"
    assert (await sim.client.patch(url, json={"disabled": True})).json()["disabled"] is True
    assert (await sim.client.get(url)).json()["disabled"] is True
    assert (await sim.client.patch(url, json={"disabled": False})).json()["disabled"] is False


async def test_patch_email_uniqueness_excludes_the_user_itself(sim: Sim) -> None:
    user = await sim.create_user("ada@example.com")
    await sim.create_user("grace@example.com")
    url = f"/users/{user['id']}"
    own = await sim.client.patch(url, json={"email": "ADA@example.com"})
    assert own.status_code == 200
    assert own.json()["email"] == "ADA@example.com"
    taken = await sim.client.patch(url, json={"email": "Grace@example.com"})
    assert taken.status_code == 409
    assert taken.json() == {"error": "Email has already been taken"}


async def test_patch_email_moves_the_email_index(sim: Sim) -> None:
    user = await sim.create_user("old@example.com")
    await sim.client.patch(f"/users/{user['id']}", json={"email": "new@example.com"})
    assert (await sim.client.get("/users", params={"email": "old@example.com"})).json() == []
    found = (await sim.client.get("/users", params={"email": "new@example.com"})).json()
    assert [u["id"] for u in found] == [user["id"]]
    await sim.create_user("old@example.com")  # the old address is free again


async def test_patch_group_ids_replaces_the_whole_list(sim: Sim) -> None:
    a, b, c = [await sim.create_group(name) for name in "ABC"]
    user = await sim.create_user("x@example.com", user_group_ids=[a["id"], b["id"]])
    response = await sim.client.patch(
        f"/users/{user['id']}", json={"user_group_ids": [c["id"], b["id"], c["id"]]}
    )
    assert response.json()["user_group_ids"] == [c["id"], b["id"]]
    members_of_a = await sim.client.get("/users", params={"user_group_id": a["id"]})
    members_of_c = await sim.client.get("/users", params={"user_group_id": c["id"]})
    assert members_of_a.json() == []
    assert [u["id"] for u in members_of_c.json()] == [user["id"]]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "nope"}, [{"email": "is not a valid email address"}]),
        ({"password": "short"}, [{"password": "is too short (minimum is 8 characters)"}]),
        ({"first_name": None}, [{"first_name": "must be a string"}]),
        ({"user_group_ids": ["ffffffffffffffffffffffff"]}, None),
        ({"disabled": "yes", "last_name": 3}, None),
    ],
)
async def test_invalid_patch_is_rejected_and_changes_nothing(
    sim: Sim, body: dict[str, Any], fields: list[dict[str, str]] | None
) -> None:
    user = await sim.create_user("ada@example.com", first_name="Ada")
    response = await sim.client.patch(f"/users/{user['id']}", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
    if fields is not None:
        assert response.json()["fields"] == fields
    assert (await sim.client.get(f"/users/{user['id']}")).json() == user


async def test_delete_returns_204_and_forgets_the_user(sim: Sim) -> None:
    group = await sim.create_group("Editors")
    user = await sim.create_user("gone@example.com", user_group_ids=[group["id"]])
    response = await sim.client.delete(f"/users/{user['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await sim.client.get(f"/users/{user['id']}")).status_code == 404
    assert (await sim.client.delete(f"/users/{user['id']}")).status_code == 404
    listing = await sim.client.get("/users")
    assert user["id"] not in [u["id"] for u in listing.json()]
    assert listing.headers["Total-Records-Count"] == "1"
    members = await sim.client.get("/users", params={"user_group_id": group["id"]})
    assert members.json() == []
    await sim.create_user("gone@example.com")  # the email is free again


async def test_account_owner_cannot_be_deleted(sim: Sim) -> None:
    response = await sim.client.delete(f"/users/{sim.store.owner_id}")
    assert response.status_code == 403
    assert response.json() == {"error": "The account owner cannot be deleted"}
    assert (await sim.client.get(f"/users/{sim.store.owner_id}")).status_code == 200
