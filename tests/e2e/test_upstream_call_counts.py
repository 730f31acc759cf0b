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
        ("aligned page", client.get("/Users?startIndex=1&count=2"), ["GET /users"]),
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
