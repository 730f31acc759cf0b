"""Every refused request's ``request`` event names why (a ``reason`` from the one table in
docs/logging.md), and the route and resource its path names, even when the request was
refused before its endpoint ran (the allowlist, the throttle, a 405)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.auth_guard.allowlist import token_sha256
from scim_proxy.simulator import SimulatorStore
from tests.conftest import BASE, PROXY, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio

USERS, USER = "/scim/v2/Users", "/scim/v2/Users/{user_id}"
GROUPS, GROUP = "/scim/v2/Groups", "/scim/v2/Groups/{group_id}"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@dataclass
class Refusal:
    """One request, and what its request event must say."""

    method: str
    path: str
    status: int
    reason: str
    route: str | None
    resource: str | None
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    guarded: bool = False
    """Sent to the proxy with an allowlist (only TOKEN) and a metrics scrape token."""


JSON = {"Content-Type": "application/scim+json"}
STRANGER = {"Authorization": "Bearer stranger-b3e1"}

REFUSALS = {
    "no header": Refusal(
        "GET",
        "/Users",
        401,
        "no_authorization_header",
        USERS,
        "User",
        headers={"Authorization": ""},
    ),
    "another scheme": Refusal(
        "GET",
        "/Users",
        401,
        "malformed_authorization_header",
        USERS,
        "User",
        headers={"Authorization": "Digest abc"},
    ),
    "refused upstream": Refusal(
        "GET", "/Users/{user}", 401, "token_refused_by_telemetrytv", USER, "User", headers=STRANGER
    ),
    "outside the allowlist": Refusal(
        "GET", "/Users", 401, "token_not_allowed", USERS, "User", headers=STRANGER, guarded=True
    ),
    "outside the allowlist, by id": Refusal(
        "DELETE",
        "/Users/{user}",
        401,
        "token_not_allowed",
        USER,
        "User",
        headers=STRANGER,
        guarded=True,
    ),
    "outside the allowlist, a group": Refusal(
        "PATCH",
        "/Groups/{group}",
        401,
        "token_not_allowed",
        GROUP,
        "Group",
        headers=STRANGER,
        guarded=True,
    ),
    "wrong scrape token": Refusal(
        "GET",
        "http://proxy.test/metrics",
        401,
        "metrics_token_refused",
        "/metrics",
        None,
        headers={"Authorization": "Bearer nope"},
        guarded=True,
    ),
    "no route": Refusal("GET", "/Nope", 404, "no_such_endpoint", None, None),
    "method": Refusal("PATCH", "/Users", 405, "method_not_allowed", USERS, "User"),
    "roles are read-only": Refusal(
        "POST", "/Roles", 405, "roles_read_only", "/scim/v2/Roles", "Role", json={}
    ),
    "bulk": Refusal("POST", "/Bulk", 501, "not_supported", "/scim/v2/Bulk", None, json={}),
    "resource type": Refusal(
        "GET",
        "/ResourceTypes/Printer",
        404,
        "unknown_resource_type",
        "/scim/v2/ResourceTypes/{type_id}",
        "ResourceType",
    ),
    "schema": Refusal(
        "GET", "/Schemas/urn:x:y", 404, "unknown_schema", "/scim/v2/Schemas/{schema_id}", "Schema"
    ),
    "media type": Refusal(
        "POST",
        "/Users",
        415,
        "unsupported_media_type",
        USERS,
        "User",
        headers={"Content-Type": "text/plain"},
        content=b"{}",
    ),
    "empty body": Refusal(
        "POST", "/Users", 400, "empty_body", USERS, "User", headers=JSON, content=b""
    ),
    "malformed JSON": Refusal(
        "POST", "/Users", 400, "malformed_json", USERS, "User", headers=JSON, content=b"{not json"
    ),
    "not an object": Refusal(
        "POST", "/Users", 400, "body_not_object", USERS, "User", headers=JSON, content=b"[1, 2]"
    ),
    "too large a body": Refusal(
        "POST",
        "/Users",
        413,
        "body_too_large",
        USERS,
        "User",
        headers=JSON,
        content=b'{"a": "' + b"a" * 1_100_000 + b'"}',
    ),
    "count": Refusal("GET", "/Users?count=many", 400, "invalid_query_parameter", USERS, "User"),
    "filter syntax": Refusal(
        "GET", '/Users?filter=(userName eq "x"', 400, "invalid_filter", USERS, "User"
    ),
    "filter attribute": Refusal(
        "GET", '/Users?filter=nickName eq "x"', 400, "unsupported_filter", USERS, "User"
    ),
    "filter or terms": Refusal(
        "GET",
        "/Users?filter=" + " or ".join(f'userName eq "u{i}@x.io"' for i in range(101)),
        400,
        "filter_too_large",
        USERS,
        "User",
    ),
    "invalid user": Refusal(
        "POST",
        "/Users",
        400,
        "invalid_resource",
        USERS,
        "User",
        json={"userName": 42, "password": "x"},
    ),
    "userName not an email": Refusal(
        "POST", "/Users", 400, "username_not_email", USERS, "User", json={"userName": "no-at-sign"}
    ),
    "PATCH op": Refusal(
        "PATCH",
        "/Users/{user}",
        400,
        "invalid_patch",
        USER,
        "User",
        json=patch({"op": "frobnicate", "path": "active", "value": False}),
    ),
    "PATCH value": Refusal(
        "PATCH",
        "/Users/{user}",
        400,
        "invalid_patch",
        USER,
        "User",
        json=fixture("okta/patch-one-bad-operation"),
    ),
    "too many operations": Refusal(
        "PATCH",
        "/Users/{user}",
        400,
        "request_too_large",
        USER,
        "User",
        json=patch(*[{"op": "replace", "path": "active", "value": True}] * 1001),
    ),
    "member sub-attribute": Refusal(
        "PATCH",
        "/Groups/{group}",
        400,
        "unsupported_patch",
        GROUP,
        "Group",
        json=patch({"op": "replace", "path": "members.value", "value": "x"}),
    ),
    "no group name": Refusal(
        "POST",
        "/Groups",
        400,
        "display_name_required",
        GROUPS,
        "Group",
        json={"schemas": [GROUP_SCHEMA], "displayName": " "},
    ),
    "member without value": Refusal(
        "PATCH",
        "/Groups/{group}",
        400,
        "invalid_member",
        GROUP,
        "Group",
        json=patch({"op": "add", "path": "members", "value": [{"display": "x"}]}),
    ),
    "member not provisioned": Refusal(
        "PATCH",
        "/Groups/{group}",
        400,
        "unknown_members",
        GROUP,
        "Group",
        json=patch({"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}),
    ),
    "unknown role": Refusal(
        "PATCH",
        "/Users/{user}",
        400,
        "unknown_role",
        USER,
        "User",
        json=patch({"op": "add", "path": "roles", "value": [{"value": "No Such Group"}]}),
    ),
    "role without value": Refusal(
        "PATCH",
        "/Users/{user}",
        400,
        "invalid_role",
        USER,
        "User",
        json=patch({"op": "add", "path": "roles", "value": [{"primary": True}]}),
    ),
    "unknown user": Refusal(
        "GET", "/Users/010101001010101011001010101011", 404, "telemetrytv_not_found", USER, "User"
    ),
    "taken email": Refusal(
        "POST",
        "/Users",
        409,
        "telemetrytv_conflict",
        USERS,
        "User",
        json={"userName": "{email}", "emails": [{"value": "{email}"}]},
    ),
    "Admin group": Refusal("DELETE", "/Groups/{admin}", 403, "builtin_admin_group", GROUP, "Group"),
}


def _filled(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, name in names.items():
            value = value.replace("{" + key + "}", name)
        return value
    if isinstance(value, list):
        return [_filled(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
async def test_every_refusal_names_its_reason_route_and_resource(
    simulator: ASGIApp, store: SimulatorStore, case: str
) -> None:
    refusal = REFUSALS[case]
    settings = proxy_settings()
    if refusal.guarded:
        settings = settings.replace("auth", allowed_token_sha256=(token_sha256(TOKEN),)).replace(
            "metrics", token="scrape-7d1f"
        )
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    users, _ = store.list_users(per_page=10)
    names = {
        "user": next(u["id"] for u in users if u["user_group_ids"] == []),
        "email": users[-1]["email"],
        "group": store.create_group({"name": "Support"})["id"],
        "admin": store.admin_group_id,
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}", **refusal.headers},
    ) as http:
        with capture_logs() as logs:
            response = await http.request(
                refusal.method,
                _filled(refusal.path, names),
                json=_filled(refusal.json, names),
                content=refusal.content,
            )
    assert response.status_code == refusal.status, response.text
    [event] = [e for e in logs if e["event"] == "request"]
    assert (event["status"], event["reason"]) == (refusal.status, refusal.reason)
    assert event["route"] == refusal.route
    assert event["resource"] == refusal.resource
    assert event["detail"]


async def test_a_refusal_before_routing_still_names_the_operation(simulator: ASGIApp) -> None:
    settings = proxy_settings().replace("auth", allowed_token_sha256=(token_sha256(TOKEN),))
    app = create_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PROXY, headers=STRANGER
    ) as http:
        with capture_logs() as logs:
            await http.get("/scim/v2/users/abc")  # any spelling of the resource name
    [event] = [e for e in logs if e["event"] == "request"]
    assert (event["route"], event["resource"], event["operation"]) == (USER, "User", "get")
