"""The upstream calls each SCIM user operation costs, as docs/architecture.md states them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.conftest import fixture

pytestmark = pytest.mark.anyio

Calls = Callable[[], list[tuple[str, str]]]


async def _cost(upstream_calls: Calls, request: Awaitable[httpx.Response]) -> list[tuple[str, str]]:
    before = len(upstream_calls())
    response = await request
    assert response.status_code < 400, response.text
    return upstream_calls()[before:]


def _templated(calls: list[tuple[str, str]]) -> list[str]:
    """``GET /users/{id}`` rather than the concrete id."""
    return [
        f"{method} {'/users/{id}' if path.startswith('/users/') else path}"
        for method, path in calls
    ]


async def test_call_counts_per_operation(client: httpx.AsyncClient, upstream_calls: Calls) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    email = "ana.lima@example.com"
    cases: list[tuple[str, Awaitable[httpx.Response], list[str]]] = [
        ("get by id", client.get(f"/Users/{user_id}"), ["GET /users/{id}"]),
        ("userName eq", client.get(f'/Users?filter=userName eq "{email}"'), ["GET /users"]),
        ("id eq", client.get(f'/Users?filter=id eq "{user_id}"'), ["GET /users/{id}"]),
        # The first read showing a user in a group (the owner, in Admin) lists the
        # groups' names for roles' display once; later reads reuse it (names_cache_seconds).
        (
            "aligned page",
            client.get("/Users?startIndex=1&count=2"),
            ["GET /users", "GET /user-groups"],
        ),
        ("unaligned page", client.get("/Users?startIndex=2&count=2"), ["GET /users"] * 2),
        ("total only", client.get("/Users?count=0"), ["GET /users"]),
        (
            "okta deactivate",
            client.patch(f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user")),
            ["PATCH /users/{id}"],
        ),
        (
            "okta profile push",
            client.patch(f"/Users/{user_id}", json=fixture("okta/patch-update-profile")),
            ["PATCH /users/{id}"],
        ),
        (
            "entra string boolean",
            client.patch(f"/Users/{user_id}", json=fixture("entra/patch-enable-user")),
            ["PATCH /users/{id}"],
        ),
        (
            "entra work email",
            client.patch(f"/Users/{user_id}", json=fixture("entra/patch-update-work-email")),
            ["PATCH /users/{id}"],
        ),
        (
            "patch that needs the user (add of an attribute)",
            client.patch(f"/Users/{user_id}", json=fixture("entra/patch-several-operations")),
            ["GET /users/{id}", "PATCH /users/{id}"],
        ),
        (
            "put",
            client.put(f"/Users/{user_id}", json=fixture("okta/put-reactivate-user", id=user_id)),
            ["GET /users/{id}", "PATCH /users/{id}"],
        ),
        (
            "put changing nothing",
            client.put(f"/Users/{user_id}", json=fixture("okta/put-reactivate-user", id=user_id)),
            ["GET /users/{id}"],
        ),
        ("delete", client.delete(f"/Users/{user_id}"), ["DELETE /users/{id}"]),
    ]
    for name, request, expected in cases:
        assert _templated(await _cost(upstream_calls, request)) == expected, name


async def test_create_costs_one_call_and_two_when_inactive(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    assert _templated(
        await _cost(upstream_calls, client.post("/Users", json=fixture("okta/create-user")))
    ) == ["POST /users"]
    inactive = {**fixture("okta/create-user"), "userName": "x@example.com", "active": False}
    inactive["emails"] = [{"value": "x@example.com", "primary": True}]
    assert _templated(await _cost(upstream_calls, client.post("/Users", json=inactive))) == [
        "POST /users",
        "PATCH /users/{id}",
    ]


async def test_group_calls_per_operation(client: httpx.AsyncClient, upstream_calls: Calls) -> None:
    users = (await client.get('/Users?filter=userName sw "user"')).json()["Resources"]
    members = [u["id"] for u in users]
    created = await client.post("/Groups", json=fixture("okta/group-create"))
    group_id = created.json()["id"]
    k = len(members)
    add = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in members]}],
    }
    # A change of k members: the group, k validating reads, k writes, k verifying reads.
    cost = _templated(await _cost(upstream_calls, client.patch(f"/Groups/{group_id}", json=add)))
    assert cost[0] == f"GET /user-groups/{group_id}"
    assert cost.count("GET /users/{id}") == 2 * k
    assert cost.count("PATCH /users/{id}") == k
    assert len(cost) == 1 + 3 * k
    # Sending it again finds everything in place: the group and k reads, no writes.
    again = _templated(await _cost(upstream_calls, client.patch(f"/Groups/{group_id}", json=add)))
    assert len(again) == 1 + k
    assert "PATCH /users/{id}" not in again
    # A read: the group, then members a page at a time (k < page size: one page).
    read = await _cost(upstream_calls, client.get(f"/Groups/{group_id}"))
    assert [m for m, _ in read] == ["GET", "GET"]
    assert read[1] == ("GET", "/users")
    excluded = await _cost(
        upstream_calls, client.get(f"/Groups/{group_id}?excludedAttributes=members")
    )
    assert len(excluded) == 1


async def test_role_reads_and_writes_cost_what_the_docs_say(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    lobby = (await client.post("/Groups", json=fixture("okta/group-create"))).json()["id"]
    grant = fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby")
    # A role write: the user, a fresh group listing, then the membership path once for
    # the whole change (here `verify`: write, verifying read; the user read again first
    # if the first read is older than groups.max_read_age_seconds). The written user is
    # the answer: no read back.
    cost = _templated(await _cost(upstream_calls, client.patch(f"/Users/{user_id}", json=grant)))
    assert cost[:2] == ["GET /users/{id}", "GET /user-groups"]
    assert cost[2:] in (
        ["PATCH /users/{id}", "GET /users/{id}"],
        ["GET /users/{id}", "PATCH /users/{id}", "GET /users/{id}"],
    )
    # Reads reuse the names that listing kept: a user in groups is still one call.
    read = _templated(await _cost(upstream_calls, client.get(f"/Users/{user_id}")))
    assert read == ["GET /users/{id}"]
    page = _templated(await _cost(upstream_calls, client.get("/Users?startIndex=1&count=100")))
    assert page == ["GET /users"]
    # Granting a role the user holds writes nothing.
    again = _templated(await _cost(upstream_calls, client.patch(f"/Users/{user_id}", json=grant)))
    assert again == ["GET /users/{id}", "GET /user-groups"]
    # /Roles: one page of groups, as GET /Groups?excludedAttributes=members.
    roles = _templated(await _cost(upstream_calls, client.get("/Roles?startIndex=1&count=100")))
    assert roles == ["GET /user-groups"]


async def test_a_read_leaving_roles_out_lists_no_groups(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    # The owner is in Admin; with roles excluded no group name is needed.
    cost = _templated(
        await _cost(upstream_calls, client.get("/Users?count=10&excludedAttributes=roles"))
    )
    assert cost == ["GET /users"]
