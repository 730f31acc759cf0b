"""The route table's contract: the paths SCIM clients send reach their endpoints; any other
path or method is a SCIM 404 or 405 naming what went wrong."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.routing import Found, Route, RouteTable
from tests.conftest import BASE, PROXY, TOKEN, proxy_settings

# Probes' successful request events are debug: see them all.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("debug_logs")]

SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


async def endpoint(request: Any) -> Any:
    return None


async def other(request: Any) -> Any:
    return None


async def request_event(
    http: httpx.AsyncClient, method: str, path: str
) -> tuple[httpx.Response, dict[str, Any]]:
    """Send one request; its answer and its ``request`` event."""
    with capture_logs() as logs:
        response = await http.request(method, f"{PROXY}{path}")
    [event] = [e for e in logs if e["event"] == "request"]
    return response, event


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        # What Okta and Entra send (docs/idp-requests.md), and the discovery a client reads.
        ("GET", "/scim/v2/Users?startIndex=1&count=100", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users", "/scim/v2/Users"),
        ("GET", "/scim/v2/Users/{user}", "/scim/v2/Users/{user_id}"),
        ("PUT", "/scim/v2/Users/{user}", "/scim/v2/Users/{user_id}"),
        ("PATCH", "/scim/v2/Users/{user}", "/scim/v2/Users/{user_id}"),
        ("DELETE", "/scim/v2/Users/{user}", "/scim/v2/Users/{user_id}"),
        ("GET", "/scim/v2/Groups", "/scim/v2/Groups"),
        ("POST", "/scim/v2/Groups", "/scim/v2/Groups"),
        ("GET", "/scim/v2/Groups/{group}", "/scim/v2/Groups/{group_id}"),
        ("PATCH", "/scim/v2/Groups/{group}", "/scim/v2/Groups/{group_id}"),
        ("GET", "/scim/v2/Roles", "/scim/v2/Roles"),
        ("GET", "/scim/v2/Roles/{group}", "/scim/v2/Roles/{role_id}"),
        ("GET", "/scim/v2/ServiceProviderConfig", "/scim/v2/ServiceProviderConfig"),
        ("GET", "/scim/v2/ResourceTypes", "/scim/v2/ResourceTypes"),
        ("GET", "/scim/v2/ResourceTypes/User", "/scim/v2/ResourceTypes/{type_id}"),
        ("GET", "/scim/v2/Schemas", "/scim/v2/Schemas"),
        ("GET", f"/scim/v2/Schemas/{SCHEMA}", "/scim/v2/Schemas/{schema_id}"),
        ("POST", "/scim/v2/Bulk", "/scim/v2/Bulk"),
        ("POST", "/scim/v2/Users/.search", "/scim/v2/Users/.search"),
        ("GET", "/healthz", "/healthz"),
        ("GET", "/metrics", "/metrics"),
        # A base URL with a trailing slash, and resource names in another case.
        ("GET", "/scim/v2//Users/", "/scim/v2/Users"),
        ("GET", "/scim/v2/Users/{user}/", "/scim/v2/Users/{user_id}"),
        ("GET", "/scim/v2//users//{user}", "/scim/v2/Users/{user_id}"),
        ("PATCH", "/scim/v2/GROUPS/{group}", "/scim/v2/Groups/{group_id}"),
        ("GET", "/scim/v2/serviceproviderconfig", "/scim/v2/ServiceProviderConfig"),
        # The id route serves any last segment for GET, ``.search`` included.
        ("GET", "/scim/v2/Users/.search", "/scim/v2/Users/{user_id}"),
        ("HEAD", "/scim/v2/Users/{user}", "/scim/v2/Users/{user_id}"),
    ],
)
async def test_the_paths_scim_clients_send_reach_their_route(
    client: httpx.AsyncClient, method: str, path: str, route: str
) -> None:
    user = (await client.get("/Users?count=1")).json()["Resources"][0]["id"]
    created = await client.post(
        "/Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "R"},
    )
    group = created.json()["id"]
    target = path.replace("{user}", user).replace("{group}", group)
    response, event = await request_event(client, method, target)
    assert event["route"] == route
    assert event.get("reason") not in ("no_such_endpoint", "method_not_allowed"), response.text
    assert response.headers["x-request-id"] == event["request_id"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/scim",
        "/scim/v2",
        "/scim/v2/",
        "/scim/v2/Nope",
        "/scim/v2/Users/a/b",
        "/SCIM/V2/Users",
        "/Users",
        "/healthz/now",
        "/healthz%0A",  # a newline is part of the path, not the end of a pattern
        "/scim/v2/Users%0A",
    ],
)
async def test_any_other_path_is_a_scim_404_naming_it(client: httpx.AsyncClient, path: str) -> None:
    response, event = await request_event(client, "GET", path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/scim+json")
    clean = unquote(path).rstrip("/") or "/"
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "404",
        "detail": f"No SCIM endpoint at {clean!r}; the SCIM base URL ends in /scim/v2",
    }
    assert (event["route"], event["reason"], event["status"]) == (None, "no_such_endpoint", 404)


@pytest.mark.parametrize(
    ("method", "path", "allow", "route"),
    [
        ("PATCH", "/scim/v2/users/", "GET, HEAD, POST", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users/abc", "GET, HEAD, PUT, PATCH, DELETE", "/scim/v2/Users/{user_id}"),
        ("DELETE", "/scim/v2/ServiceProviderConfig", "GET, HEAD", "/scim/v2/ServiceProviderConfig"),
        ("OPTIONS", "/scim/v2/Roles", "GET, HEAD, POST, PUT, PATCH, DELETE", "/scim/v2/Roles"),
        ("POST", "/healthz", "GET, HEAD", "/healthz"),
        # The fixed .search route and the id route share the path: both count.
        (
            "OPTIONS",
            "/scim/v2/Groups/.search",
            "GET, HEAD, POST, PUT, PATCH, DELETE",
            "/scim/v2/Groups/.search",
        ),
    ],
)
async def test_a_path_served_with_other_methods_is_a_scim_405_listing_them(
    client: httpx.AsyncClient, method: str, path: str, allow: str, route: str
) -> None:
    response, event = await request_event(client, method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"].startswith("application/scim+json")
    clean = path.rstrip("/").replace("users", "Users")
    assert response.json()["detail"] == f"{method} is not allowed on {clean!r}"
    assert (event["route"], event["reason"]) == (route, "method_not_allowed")


async def test_the_roles_routes_are_absent_when_roles_are_off(simulator: ASGIApp) -> None:
    app = create_app(
        proxy_settings().replace("roles", enabled=False),
        upstream_transport=httpx.ASGITransport(app=simulator),
    )
    assert not any(route.path.startswith("/scim/v2/Roles") for route in app.routes.routes)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        assert (await http.get("/Roles")).status_code == 404
        assert (await http.get("/roles/abc")).status_code == 404
        assert (await http.get("/Users?count=1")).status_code == 200


def test_a_fixed_path_wins_over_the_parameter_route_for_its_methods() -> None:
    fixed = Route("/a/b", other, methods=["POST"])
    templated = Route("/a/{x}", endpoint, methods=["GET", "POST"])
    for table in (RouteTable([fixed, templated]), RouteTable([templated, fixed])):
        assert table.find("POST", "/a/b") == Found(fixed, {})
        assert table.find("GET", "/a/b") == Found(templated, {"x": "b"})
        assert table.find("POST", "/a/c") == Found(templated, {"x": "c"})


def test_a_parameter_is_one_non_empty_last_segment() -> None:
    table = RouteTable([Route("/a/{x}", endpoint, methods=["GET"])])
    assert table.find("GET", "/a/b") == Found(table.routes[0], {"x": "b"})
    assert table.find("GET", "/a/") == Found(None, {})
    assert table.find("GET", "/a") == Found(None, {})
    assert table.find("GET", "/a/b/c") == Found(None, {})
    assert table.find("GET", "/a/b.c d:e") == Found(table.routes[0], {"x": "b.c d:e"})


def test_get_routes_serve_head_and_methods_are_upper_case() -> None:
    route = Route("/a", endpoint, methods=["get", "post"])
    assert route.methods == {"GET", "HEAD", "POST"}
    assert RouteTable([route]).find("HEAD", "/a") == Found(route, {})


def test_route_tables_the_lookup_cannot_serve_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="last-segment"):
        Route("/a/{b}/c", endpoint, methods=["GET"])
    with pytest.raises(ValueError, match="plain"):
        Route("/a/{b:path}", endpoint, methods=["GET"])
    with pytest.raises(ValueError, match="plain"):
        Route("/a/b{c}", endpoint, methods=["GET"])
    with pytest.raises(TypeError, match="async"):
        Route("/a", lambda request: None, methods=["GET"])
    with pytest.raises(ValueError, match="routed twice"):
        RouteTable([Route("/a", endpoint, methods=["GET"]), Route("/a", other, methods=["GET"])])
