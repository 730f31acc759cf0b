"""What resources and health answers look like: member display, no version, plain JSON."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PROXY

pytestmark = pytest.mark.anyio


async def test_a_member_is_displayed_by_the_users_display_name(
    client: httpx.AsyncClient,
) -> None:
    named = (await client.get("/Users?count=1")).json()["Resources"][0]
    unnamed = await client.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "no.name@example.com",
            "emails": [{"value": "no.name@example.com", "primary": True}],
        },
    )
    member_ids = [named["id"], unnamed.json()["id"]]
    group = await client.post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Displayed",
            "members": [{"value": i} for i in member_ids],
        },
    )
    assert group.status_code == 201
    for answer in (group, await client.get(f"/Groups/{group.json()['id']}")):
        shown = {m["value"]: m["display"] for m in answer.json()["members"]}
        assert shown == {named["id"]: named["displayName"], member_ids[1]: "no.name@example.com"}
    # The same through scim2-models' rendering (an attribute selection).
    selected = await client.get(f"/Groups/{group.json()['id']}?attributes=members")
    shown = {m["value"]: m["display"] for m in selected.json()["members"]}
    assert shown[named["id"]] == named["displayName"]


async def test_users_carry_no_version_since_etags_are_not_supported(
    client: httpx.AsyncClient,
) -> None:
    config = (await client.get("/ServiceProviderConfig")).json()
    assert config["etag"]["supported"] is False
    listed = (await client.get("/Users?count=2")).json()["Resources"]
    one = (await client.get(f"/Users/{listed[0]['id']}")).json()
    selected = (await client.get(f"/Users/{listed[0]['id']}?attributes=meta")).json()
    for user in (*listed, one, selected):
        assert "version" not in user["meta"]
    response = await client.get(f"/Users/{listed[0]['id']}")
    assert "etag" not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_endpoints_answer_plain_json(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"{PROXY}{path}")
    assert response.headers["content-type"] == "application/json"
    assert "status" in response.json()
