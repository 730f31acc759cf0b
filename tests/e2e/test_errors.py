"""Every failure is a SCIM Error JSON body with an actionable detail; nothing else leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.translation.users import UserProvisioning
from tests.conftest import BASE, TOKEN, UPSTREAM, proxy_settings

pytestmark = pytest.mark.anyio

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_error(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is a SCIM error with this status and a non-empty detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body: dict[str, object] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/Nope", 404),
        ("GET", "/Users/a/b", 404),
        ("DELETE", "/Schemas", 405),
        ("POST", "/ServiceProviderConfig", 405),
        ("PUT", "/ResourceTypes", 405),
        ("PATCH", "/Users", 405),
        ("POST", "/Bulk", 501),
        ("GET", "/Me", 501),
        ("POST", "/.search", 501),
        ("POST", "/Users/.search", 501),
    ],
)
async def test_router_errors_are_scim_errors(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    assert_scim_error(await client.request(method, path), status)


async def test_paths_outside_scim_are_scim_errors_too(client: httpx.AsyncClient) -> None:
    assert_scim_error(await client.get("http://proxy.test/"), 404)


async def test_trailing_and_doubled_slashes_are_tolerated(client: httpx.AsyncClient) -> None:
    assert (await client.get("http://proxy.test/scim/v2//Users/?count=1")).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "", "non-token", "Bearer", "Bearer a b", "Basic !!!", "Digest abc"],
)
async def test_missing_or_malformed_auth_is_401_without_an_upstream_call(
    client: httpx.AsyncClient,
    upstream_calls: Callable[[], list[tuple[str, str]]],
    header: str | None,
) -> None:
    request = client.build_request("GET", '/Users?filter=userName eq "X@EXAMPLE.COM"')
    del request.headers["Authorization"]
    if header is not None:
        request.headers["Authorization"] = header
    response = await client.send(request)
    body = assert_scim_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Bearer" in str(body["detail"])
    assert upstream_calls() == []


async def test_a_token_telemetrytv_refuses_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/Users", headers={"Authorization": "Bearer wrong-token"})
    body = assert_scim_error(response, 401)
    assert "token" in str(body["detail"])
    assert "wrong-token" not in response.text


@pytest.mark.parametrize(
    ("content_type", "body", "status", "scim_type"),
    [
        ("application/json", b"{not json", 400, "invalidSyntax"),
        ("application/json", b"[1, 2]", 400, "invalidSyntax"),
        ("application/json", b"", 400, "invalidSyntax"),
        ("application/json", b'{"userName": "\xff\xfe@x.com"}', 400, "invalidSyntax"),
        ("text/plain", b"{}", 415, None),
        ("application/json", b'{"userName": 42, "password": "x"}', 400, "invalidValue"),
        ("application/json", b'{"userName": "no-at-sign"}', 400, "invalidValue"),
    ],
)
async def test_bad_create_bodies(
    client: httpx.AsyncClient, content_type: str, body: bytes, status: int, scim_type: str | None
) -> None:
    response = await client.post("/Users", content=body, headers={"Content-Type": content_type})
    error = assert_scim_error(response, status)
    assert error.get("scimType") == scim_type


async def test_a_huge_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Users",
        content=b'{"userName": "' + b"a" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/scim+json"},
    )
    assert_scim_error(response, 413)


async def test_scim_json_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Users",
        content=b'{"userName": "charset@example.com", "name": {"givenName": "C"}}',
        headers={"Content-Type": "application/scim+json; charset=utf-8"},
    )
    assert response.status_code == 201


async def test_an_unexpected_failure_is_a_bare_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(self: UserProvisioning, user_id: str) -> None:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(UserProvisioning, "get", explode)
    response = await client.get("/Users/abc")
    assert_scim_error(response, 500)
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"]


def _failing_upstream(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


@pytest.fixture
async def unreachable(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A proxy whose TelemetryTV cannot be reached."""
    app = create_app(settings, upstream_transport=_failing_upstream(httpx.ConnectError("refused")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http


async def test_telemetrytv_unreachable_is_503_with_retry_after(
    unreachable: httpx.AsyncClient,
) -> None:
    response = await unreachable.get("/Users/abc")
    assert_scim_error(response, 503)
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("upstream_status", "headers", "expected"),
    [(429, {"Retry-After": "12"}, 429), (503, {}, 502), (500, {}, 502)],
)
async def test_upstream_failures_map_to_scim_errors(
    upstream_status: int, headers: dict[str, str], expected: int
) -> None:
    # A 12 s Retry-After does not fit a 5 s budget: the 429 goes back to the client.
    settings = proxy_settings().replace("server", request_budget_seconds=5)
    upstream = httpx.MockTransport(
        lambda request: httpx.Response(upstream_status, headers=headers, text="<html>down</html>")
    )
    app = create_app(settings, upstream_transport=upstream)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        response = await http.get("/Users")
    assert_scim_error(response, expected)
    assert "<html>" not in response.text
    if expected == 429:
        assert response.headers["retry-after"] == "12"


async def test_hostile_ids_never_reach_telemetrytv_as_paths(
    client: httpx.AsyncClient, upstream_calls: Callable[[], list[tuple[str, str]]]
) -> None:
    look_alike = "\uff41\uff42\uff43"  # fullwidth "abc"
    for hostile in ("..", "..%2F..%2Fuser-groups", "a%3Fb", "a%23b", "a%5Cb", "%00", look_alike):
        response = await client.get(f"/Users/{hostile}")
        assert response.status_code == 404, hostile
    assert all(path.startswith("/users") for _, path in upstream_calls())
    assert all(path.count("/") <= 2 for _, path in upstream_calls())


def test_upstream_url_comes_only_from_settings() -> None:
    assert Settings().upstream.base_url == "https://api.telemetrytv.com"
    assert Settings().upstream.base_url != UPSTREAM
