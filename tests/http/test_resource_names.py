"""Resource endpoint names match case-insensitively, as some SCIM clients spell them."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from scim_proxy.http.resource_names import canonical_resource_path

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path",
    [
        "/users?count=1",
        "/USERS?count=1",
        "/groups",
        "/roles",
        "/ROLES?count=1",
        "/serviceproviderconfig",
        "/schemas",
        "/resourcetypes",
        "/resourcetypes/user",
        "/schemas/URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER",
    ],
)
async def test_a_lower_or_upper_cased_endpoint_is_served(
    client: httpx.AsyncClient, path: str
) -> None:
    with capture_logs() as logs:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["route"].split("/")[3] in (
        "Users",
        "Groups",
        "Roles",
        "ServiceProviderConfig",
        "Schemas",
        "ResourceTypes",
    )


async def test_a_user_is_read_and_patched_through_a_lower_cased_endpoint(
    client: httpx.AsyncClient,
) -> None:
    listed = (await client.get("/users?count=1")).json()
    user_id = listed["Resources"][0]["id"]
    assert (await client.get(f"/users/{user_id}")).json()["id"] == user_id
    patched = await client.patch(
        f"/uSeRs/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )
    assert patched.status_code == 200
    assert patched.json()["active"] is False


def test_canonical_paths_and_other_paths_are_left_as_they_are() -> None:
    for path in ("/scim/v2/Users", "/scim/v2/Users/AbC", "/healthz", "/scim/v2/Nope"):
        assert canonical_resource_path(path) is path
    assert canonical_resource_path("/scim/v2/users/AbC") == "/scim/v2/Users/AbC"
    assert canonical_resource_path("/scim/v2/.SEARCH") == "/scim/v2/.search"


async def test_an_unknown_endpoint_is_still_a_scim_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/userz")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/scim+json"
