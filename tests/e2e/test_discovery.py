"""Discovery advertises exactly what works, and nothing TelemetryTV cannot hold."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_service_provider_config(client: httpx.AsyncClient) -> None:
    body = (await client.get("/ServiceProviderConfig")).json()
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"]["supported"] is True
    assert body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 100}
    assert body["changePassword"]["supported"] is True
    assert body["sort"]["supported"] is False
    assert body["etag"]["supported"] is False
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert body["authenticationSchemes"][1]["type"] == "httpbasic"  # the password is the token


async def test_resource_types_list_and_read(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/ResourceTypes")).json()
    assert listed["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    names = {r["name"]: r for r in listed["Resources"]}
    assert names["User"]["endpoint"] == "/Users"
    assert names["User"]["schema"] == "urn:ietf:params:scim:schemas:core:2.0:User"
    assert names["Group"]["endpoint"] == "/Groups"
    assert names["Group"]["schema"] == "urn:ietf:params:scim:schemas:core:2.0:Group"
    one = await client.get("/ResourceTypes/User")
    assert one.status_code == 200
    assert one.json()["id"] == "User"
    assert (await client.get("/ResourceTypes/Device")).status_code == 404


async def test_user_schema_holds_only_what_telemetrytv_stores(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/Schemas")).json()
    user = next(
        s for s in listed["Resources"] if s["id"] == "urn:ietf:params:scim:schemas:core:2.0:User"
    )
    attributes = {a["name"]: a for a in user["attributes"]}
    assert set(attributes) == {
        "userName",
        "name",
        "displayName",
        "active",
        "password",
        "emails",
        "groups",
        "roles",
    }
    assert {a["name"] for a in attributes["name"]["subAttributes"]} == {"givenName", "familyName"}
    assert attributes["password"]["returned"] == "never"
    assert attributes["password"]["mutability"] == "writeOnly"
    assert attributes["groups"]["mutability"] == "readOnly"
    assert attributes["displayName"]["mutability"] == "readOnly"
    assert attributes["userName"]["uniqueness"] == "server"
    one = await client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
    assert one.status_code == 200
    assert (await client.get("/Schemas/urn:nope")).status_code == 404


async def test_discovery_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/ServiceProviderConfig", headers={"Authorization": ""})
    assert response.status_code == 200


async def test_group_schema_holds_name_and_members(client: httpx.AsyncClient) -> None:
    response = await client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
    attributes = {a["name"]: a for a in response.json()["attributes"]}
    assert set(attributes) == {"displayName", "members"}
    members = {a["name"]: a for a in attributes["members"]["subAttributes"]}
    assert set(members) == {"value", "$ref", "type", "display"}
    assert members["display"]["mutability"] == "readOnly"
