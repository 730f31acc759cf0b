"""Bounded work per request: what a write or a filter may name, refused before any call.

Each limit is a ``[scim]`` setting with a default well above what Okta and Entra send
(docs/reliability.md, "Limits"). A request over one is a SCIM 400 naming the limit and
its setting, answered before the body is validated and before any upstream call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from tests.conftest import BASE, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio

Calls = Callable[[], list[tuple[str, str]]]
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def refused(response: httpx.Response, setting: str, limit: int, scim_type: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["scimType"] == scim_type
    assert f"setting scim.{setting}" in body["detail"]
    assert f"at most {limit}" in body["detail"]


async def new_user(client: httpx.AsyncClient) -> str:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def new_group(client: httpx.AsyncClient) -> str:
    created = await client.post("/Groups", json=fixture("okta/group-create"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_group_patch_naming_1500_unknown_members_makes_no_upstream_call(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    # Finding 6: validating each named member used to cost one read: ~1,510 calls.
    group_id = await new_group(client)
    before = len(upstream_calls())
    members = [{"value": f"unknown-{n:05d}"} for n in range(1500)]
    answer = await client.patch(
        f"/Groups/{group_id}", json=patch({"op": "add", "path": "members", "value": members})
    )
    refused(answer, "max_members_per_write", 1000, "invalidValue")
    assert "1500 group members" in answer.json()["detail"]
    assert upstream_calls()[before:] == []


async def test_members_are_counted_over_every_operation_and_filter_term(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    # Okta removes members one operation each; Entra lists them in one remove.
    group_id = await new_group(client)
    before = len(upstream_calls())
    removes = [
        {"op": "remove", "path": f'members[value eq "u-{n}" or value eq "v-{n}"]'}
        for n in range(300)
    ]
    adds = {"op": "add", "path": "members", "value": [{"value": f"w-{n}"} for n in range(300)]}
    entra = {"op": "Remove", "path": "members", "value": [{"value": f"x-{n}"} for n in range(101)]}
    answer = await client.patch(f"/Groups/{group_id}", json=patch(*removes, adds, entra))
    refused(answer, "max_members_per_write", 1000, "invalidValue")
    assert "1001 group members" in answer.json()["detail"]
    assert upstream_calls()[before:] == []


async def test_group_creates_and_replaces_over_the_member_limit_are_refused(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    group_id = await new_group(client)
    before = len(upstream_calls())
    members = [{"value": f"u-{n}"} for n in range(1001)]
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Big"}
    answer = await client.post("/Groups", json={**body, "members": members})
    refused(answer, "max_members_per_write", 1000, "invalidValue")
    answer = await client.put(f"/Groups/{group_id}", json={**body, "members": members})
    refused(answer, "max_members_per_write", 1000, "invalidValue")
    assert upstream_calls()[before:] == []


async def test_a_patch_over_the_operation_limit_is_refused_unread(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    # Finding 2: 12,000 operations held a worker for minutes; now refused at once.
    user_id = await new_user(client)
    before = len(upstream_calls())
    operations = [
        {"op": "replace", "path": "name.givenName", "value": f"A{n}"} for n in range(1001)
    ]
    answer = await client.patch(f"/Users/{user_id}", json=patch(*operations))
    refused(answer, "max_patch_operations", 1000, "invalidValue")
    assert "1001 operations" in answer.json()["detail"]
    many = [{"op": "add", "path": "emails", "value": [{"value": "x@example.com"}]}] * 12_000
    refused(
        await client.patch(f"/Users/{user_id}", json=patch(*many)),
        "max_patch_operations",
        1000,
        "invalidValue",
    )
    assert upstream_calls()[before:] == []


async def test_values_written_to_one_attribute_are_counted_over_operations(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    user_id = await new_user(client)
    before = len(upstream_calls())
    adds = [
        {"op": "add", "path": "emails", "value": [{"value": f"e{n}@example.com"}]}
        for n in range(60)
    ]
    removes = [{"op": "remove", "path": f'emails[value eq "e{n}@example.com"]'} for n in range(41)]
    answer = await client.patch(f"/Users/{user_id}", json=patch(*adds, *removes))
    refused(answer, "max_attribute_values", 100, "invalidValue")
    assert "101 values to 'emails'" in answer.json()["detail"]
    # The same in one pathless value, and in a create.
    emails = [{"value": f"e{n}@example.com"} for n in range(101)]
    answer = await client.patch(
        f"/Users/{user_id}", json=patch({"op": "add", "value": {"emails": emails}})
    )
    refused(answer, "max_attribute_values", 100, "invalidValue")
    create = {**fixture("okta/create-user"), "emails": emails}
    refused(await client.post("/Users", json=create), "max_attribute_values", 100, "invalidValue")
    assert upstream_calls()[before:] == []


async def test_a_patch_within_the_limits_is_applied(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    user_id = await new_user(client)
    adds = [
        {"op": "add", "path": "emails", "value": [{"value": f"e{n}@example.com"}]}
        for n in range(50)
    ]
    removes = [{"op": "remove", "path": f'emails[value eq "e{n}@example.com"]'} for n in range(50)]
    names = [{"op": "replace", "path": "name.givenName", "value": f"A{n}"} for n in range(900)]
    answer = await client.patch(f"/Users/{user_id}", json=patch(*adds, *removes, *names))
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"]["givenName"] == "A899"


@pytest.mark.parametrize("resource", ["Groups", "Users"])
async def test_a_filter_with_too_many_or_terms_makes_no_upstream_call(
    client: httpx.AsyncClient, upstream_calls: Calls, resource: str
) -> None:
    # Finding 6: a Groups filter with 168 or-terms made 168 lookups.
    key = "displayName" if resource == "Groups" else "userName"
    terms = " or ".join(f'{key} eq "n{n}"' for n in range(168))
    before = len(upstream_calls())
    answer = await client.get(f"/{resource}", params={"filter": terms})
    refused(answer, "max_filter_or_terms", 100, "tooMany")
    assert "joins 168 terms" in answer.json()["detail"]
    assert upstream_calls()[before:] == []


async def test_many_keyed_group_lookups_become_one_bounded_scan(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    # As for users: beyond ten keyed terms, one walk of the listing costs fewer calls.
    await new_group(client)
    terms = " or ".join(f'displayName eq "n{n}"' for n in range(50))
    before = len(upstream_calls())
    answer = await client.get("/Groups", params={"filter": terms, "excludedAttributes": "members"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["totalResults"] == 0
    assert 1 <= len(upstream_calls()[before:]) <= 2


async def test_the_limits_are_settings(simulator: ASGIApp, upstream_calls: Calls) -> None:
    tight = proxy_settings().replace(
        "scim", max_patch_operations=2, max_attribute_values=1, max_members_per_write=1
    )
    app = create_app(tight, upstream_transport=httpx.ASGITransport(app=simulator))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        ops = [{"op": "replace", "path": "active", "value": True}] * 3
        refused(
            await client.patch("/Users/1", json=patch(*ops)),
            "max_patch_operations",
            2,
            "invalidValue",
        )
        two = [{"value": "a@example.com"}, {"value": "b@example.com"}]
        refused(
            await client.patch(
                "/Users/1", json=patch({"op": "add", "path": "emails", "value": two})
            ),
            "max_attribute_values",
            1,
            "invalidValue",
        )
        refused(
            await client.patch(
                "/Groups/1",
                json=patch(
                    {"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}]}
                ),
            ),
            "max_members_per_write",
            1,
            "invalidValue",
        )
    assert upstream_calls() == []
