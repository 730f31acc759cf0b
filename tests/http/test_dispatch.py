"""Routing by lookup answers as Starlette's router answers for the same route table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.dispatch import RouteTable
from tests.conftest import BASE, TOKEN, proxy_settings

pytestmark = pytest.mark.anyio

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def app_routes(roles: bool = True) -> list[Route]:
    """The routes the proxy serves, roles included, in its table order."""
    app = create_app(proxy_settings().replace("roles", enabled=roles))
    return [route for route in app.routes if isinstance(route, Route)]


ROUTES = app_routes()
TABLE = RouteTable(ROUTES)


def starlette_answer(method: str, path: str) -> tuple[str, Route | None, dict[str, Any]]:
    """What Starlette's router does with the request: ``full``, ``partial`` (405) or ``none``."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    partial: tuple[Route, dict[str, Any]] | None = None
    for route in ROUTES:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return "full", route, child["path_params"]
        if match is Match.PARTIAL and partial is None:
            partial = (route, child["path_params"])
    if partial is not None:
        return "partial", partial[0], partial[1]
    return "none", None, {}


def lookup_answer(method: str, path: str) -> tuple[str, Route | None, dict[str, Any], str]:
    """What the route table does with it, and the ``Allow`` of a 405."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": ""}
    refused: HTTPException | None = None
    try:
        TABLE.resolve(scope)
    except HTTPException as exc:
        refused = exc
    if refused is not None and refused.status_code == 404:
        assert "route" not in scope
        return "none", None, {}, ""
    if refused is not None:
        assert refused.status_code == 405
        return "partial", scope["route"], scope["path_params"], (refused.headers or {})["Allow"]
    assert scope["endpoint"] is scope["route"].endpoint
    return "full", scope["route"], scope["path_params"], ""


SEGMENTS = st.sampled_from(
    [
        "scim",
        "v2",
        "Users",
        "Groups",
        "Roles",
        "Schemas",
        "ResourceTypes",
        "ServiceProviderConfig",
        "Bulk",
        "Me",
        ".search",
        "healthz",
        "readyz",
        "metrics",
        "abc-123",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "",
    ]
)
PATHS = st.one_of(
    st.lists(SEGMENTS, min_size=0, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    st.lists(SEGMENTS, min_size=0, max_size=3).map(lambda p: "/scim/v2/" + "/".join(p)),
    st.text(alphabet="/abcUsr.{}%", max_size=20).map(lambda text: "/" + text),
    # A path may end in a newline (``%0A``): Starlette's patterns end in ``$``, which
    # matches before a final newline, so its router serves ``/healthz\n`` as ``/healthz``.
    st.sampled_from(
        ["/healthz", "/scim/v2/Users", "/scim/v2/Users/.search", "/scim/v2/Users/a"]
    ).map(lambda path: path + "\n"),
)


@given(method=st.sampled_from(METHODS), path=PATHS)
@example(method="POST", path="/scim/v2/Users/.search")  # the fixed route, after /{user_id}
@example(method="GET", path="/scim/v2/Users/.search")  # a user id
@example(method="OPTIONS", path="/scim/v2/Roles")
@example(method="DELETE", path="/scim/v2/Users/a/b")
@example(method="HEAD", path="/healthz")
@example(method="GET", path="/scim/v2/ServiceProviderConfig\n")
@example(method="POST", path="/scim/v2/Users/.search\n")  # the fixed route, not a 405
@example(method="DELETE", path="/scim/v2/Users\n")  # a 405, not a 404
def test_the_lookup_picks_the_route_starlettes_router_picks(method: str, path: str) -> None:
    kind, route, params = starlette_answer(method, path)
    looked_kind, looked_route, looked_params, allow = lookup_answer(method, path)
    assert (looked_kind, looked_route, looked_params) == (kind, route, params)
    if kind == "partial":
        # The 405 names every method the path is served with (Starlette names only the
        # first matching route's), the first route's among them.
        assert route is not None
        assert route.methods is not None
        assert set(allow.split(", ")) >= route.methods
        assert method not in allow.split(", ")


def test_every_route_is_reached_with_each_of_its_methods() -> None:
    for route in ROUTES:
        path = route.path.replace("{", "").replace("}", "")  # {user_id} -> user_id
        for method in route.methods or ():
            kind, found, params, _ = lookup_answer(method, path)
            assert (kind, found) == ("full", route), (method, route.path)
            if "{" in route.path:
                assert list(params.values()) == [path.rsplit("/", 1)[1]]


def test_of_a_fixed_and_a_parameter_route_both_matching_the_first_in_the_table_wins() -> None:
    async def first(request: Any) -> Any:
        return None

    async def second(request: Any) -> Any:
        return None

    for routes in (
        [Route("/a/{x}", first), Route("/a/b", second)],
        [Route("/a/b", first), Route("/a/{x}", second)],
    ):
        scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/a/b"}
        assert RouteTable(routes).resolve(scope) is first
        assert scope["route"] is routes[0]


def test_a_root_path_is_left_out_of_routing_as_starlette_leaves_it_out() -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/proxy/scim/v2/Users/u1",
        "root_path": "/proxy",
    }
    TABLE.resolve(scope)
    assert scope["route"].path == "/scim/v2/Users/{user_id}"
    assert scope["path_params"] == {"user_id": "u1"}


def test_routes_other_than_a_last_segment_parameter_are_refused_at_start_up() -> None:
    async def endpoint(request: Any) -> Any:
        return None

    with pytest.raises(ValueError, match="last-segment"):
        RouteTable([Route("/a/{b}/c", endpoint)])
    with pytest.raises(TypeError, match="async"):
        RouteTable([Route("/a", lambda request: None)])


async def test_a_405_lists_every_method_of_the_path_and_logs_its_route(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        response = await client.patch("/users/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.json()["detail"] == "PATCH is not allowed on '/scim/v2/Users'"
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["route"] == "/scim/v2/Users"
    assert event["reason"] == "method_not_allowed"


async def test_an_unknown_path_is_a_404_naming_it_with_no_route_logged(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        response = await client.get("http://proxy.test/scim/v2//Users/a//b/")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "No SCIM endpoint at '/scim/v2/Users/a/b'; the SCIM base URL ends in /scim/v2"
    )
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["route"] is None


async def test_head_is_served_where_get_is(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/Users?count=1")).json()
    user_id = listed["Resources"][0]["id"]
    with capture_logs() as logs:
        response = await client.head(f"/users/{user_id}")
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    [event] = [e for e in logs if e["event"] == "request"]
    assert (event["route"], event["operation"]) == ("/scim/v2/Users/{user_id}", "get")


async def test_a_lower_cased_id_route_logs_its_template_and_passes_the_id(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        response = await client.get("/GROUPS/no-such-group")
    assert response.status_code == 404
    assert "no-such-group" in response.json()["detail"]
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["route"] == "/scim/v2/Groups/{group_id}"


async def test_the_roles_routes_are_absent_when_roles_are_off(simulator: Starlette) -> None:
    app = create_app(
        proxy_settings().replace("roles", enabled=False),
        upstream_transport=httpx.ASGITransport(app=simulator),
    )
    assert not any(route.path.startswith("/scim/v2/Roles") for route in app_routes(roles=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        assert (await http.get("/Roles")).status_code == 404
        assert (await http.get("/Users?count=1")).status_code == 200


class ClosingTransport(httpx.MockTransport):
    """An upstream transport that notes being closed."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_the_lifespan_runs_through_the_app() -> None:
    upstream = ClosingTransport(lambda request: httpx.Response(200))
    app = create_app(proxy_settings(), upstream_transport=upstream)
    received = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return received.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert upstream.closed
