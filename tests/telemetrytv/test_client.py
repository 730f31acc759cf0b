"""The TelemetryTV adapter against a mocked upstream: requests sent, answers and errors read."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import respx

from scim_proxy.directory import NewUser, UserChanges
from scim_proxy.telemetrytv import (
    AuthScheme,
    BadResponse,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    TelemetryTV,
    TelemetryTVSession,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.test"
TOKEN = "tok-9c1e"
USER_ID = "65a1f0c2e4b0a1b2c3d4e5f6"
GROUP_ID = "65a1f0c2e4b0a1b2c3d4e5a0"
USER = {
    "id": USER_ID,
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "user_group_ids": [GROUP_ID],
    "disabled": False,
    "created_at": "2024-01-02T03:04:05Z",
    "updated_at": "2024-01-02T03:04:05Z",
}
GROUP = {"id": GROUP_ID, "name": "Editors", "built_in": False}
NEW_USER = NewUser("ada@example.com", "Ada", "Lovelace", "pw-1!Aa")

UNSAFE_IDS = [
    *("../x", "a/b", "%2F", "a%2Fb", "a?b", "a#b", "a\\b", ".", ".."),
    *("a\nb", "a\rb", "a\x00b", "a\tb", "a b", "a\x7fb"),
    *(
        "\uff41",
        "\u212a",
        "caf\u00e9",
        "\u0430",
    ),  # look-alikes: fullwidth a, Kelvin, e-acute, Cyrillic a
    *("", "a" * 200),
]


@dataclass
class Api:
    """The mocked upstream and a session of the adapter pointed at it."""

    router: respx.MockRouter
    session: TelemetryTVSession


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        tv = TelemetryTV(httpx.AsyncHTTPTransport(), base_url=BASE, auth_scheme=AuthScheme.token)
        yield Api(router, tv.session(TOKEN))
        await tv.aclose()


def sent(route: respx.Route) -> httpx.Request:
    assert route.call_count == 1
    request: httpx.Request = route.calls.last.request
    return request


def body_of(route: respx.Route) -> Any:
    return orjson.loads(sent(route).content)


def query_of(route: respx.Route) -> dict[str, str]:
    return dict(sent(route).url.params)


# -- authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        (AuthScheme.token, "Token tok-9c1e"),
        (AuthScheme.basic, "Basic dG9rLTljMWU6"),  # base64("tok-9c1e:")
        (AuthScheme.bearer, "Bearer tok-9c1e"),
    ],
)
async def test_each_auth_scheme_presents_the_token_upstream(
    api: Api, scheme: AuthScheme, expected: str
) -> None:
    route = api.router.get(f"/users/{USER_ID}").respond(200, json=USER)
    tv = TelemetryTV(httpx.AsyncHTTPTransport(), base_url=BASE + "/", auth_scheme=scheme)
    await tv.session(TOKEN).get_user(USER_ID)
    await tv.aclose()
    request = sent(route)
    assert request.headers["Authorization"] == expected
    assert request.headers["Accept"] == "application/json"


async def test_two_sessions_carry_their_own_token(api: Api) -> None:
    route = api.router.get(f"/users/{USER_ID}").respond(200, json=USER)
    tv = TelemetryTV(httpx.AsyncHTTPTransport(), base_url=BASE)
    await tv.session("first").get_user(USER_ID)
    await tv.session("second").get_user(USER_ID)
    await tv.aclose()
    auth = [call.request.headers["Authorization"] for call in route.calls]
    assert auth == ["Token first", "Token second"]


# -- users ---------------------------------------------------------------------------


async def test_get_user_reads_the_user_object(api: Api) -> None:
    route = api.router.get(f"/users/{USER_ID}").respond(200, json=USER)
    user = await api.session.get_user(USER_ID)
    assert sent(route).method == "GET"
    assert (user.id, user.email) == (USER_ID, "ada@example.com")
    assert (user.given_name, user.family_name) == ("Ada", "Lovelace")
    assert user.group_ids == (GROUP_ID,)
    assert user.disabled is False


async def test_find_by_email_sends_the_address_as_a_query_parameter(api: Api) -> None:
    route = api.router.get("/users").respond(200, json=[{**USER, "email": "a+b@example.com"}])
    found = await api.session.find_user_by_email("A+B@Example.com")
    assert query_of(route) == {"email": "A+B@Example.com"}
    assert found is not None
    assert found.id == USER_ID


async def test_find_by_email_ignores_users_with_another_address(api: Api) -> None:
    api.router.get("/users").respond(200, json=[USER])
    assert await api.session.find_user_by_email("grace@example.com") is None


async def test_list_users_sends_page_and_per_page(api: Api) -> None:
    route = api.router.get("/users").respond(
        200, json=[USER], headers={"Total-Records-Count": "41"}
    )
    page = await api.session.list_users(3, 20)
    assert query_of(route) == {"page": "3", "per_page": "20"}
    assert [u.id for u in page.items] == [USER_ID]
    assert page.total == 41


async def test_list_users_of_a_group_filters_by_user_group_id(api: Api) -> None:
    route = api.router.get("/users").respond(200, json=[])
    await api.session.list_users(1, 100, group_id=GROUP_ID)
    assert query_of(route) == {"page": "1", "per_page": "100", "user_group_id": GROUP_ID}


@pytest.mark.parametrize(
    ("headers", "total"),
    [({"Total-Records-Count": "7"}, 7), ({}, None), ({"Total-Records-Count": "lots"}, None)],
)
async def test_listing_total_comes_from_the_paging_header(
    api: Api, headers: dict[str, str], total: int | None
) -> None:
    api.router.get("/users").respond(200, json=[], headers=headers)
    api.router.get("/user-groups").respond(200, json=[], headers=headers)
    assert (await api.session.list_users(1, 10)).total == total
    assert (await api.session.list_groups(1, 10)).total == total


async def test_create_user_posts_the_contract_fields(api: Api) -> None:
    route = api.router.post("/users").respond(201, json=USER)
    created = await api.session.create_user(NEW_USER)
    assert sent(route).headers["Content-Type"] == "application/json"
    assert body_of(route) == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "password": "pw-1!Aa",
        "user_group_ids": [],
    }
    assert created.id == USER_ID


@pytest.mark.parametrize(
    ("changes", "body"),
    [
        (UserChanges(email="new@example.com"), {"email": "new@example.com"}),
        (UserChanges(given_name="Augusta"), {"first_name": "Augusta"}),
        (UserChanges(family_name="King"), {"last_name": "King"}),
        (UserChanges(password="s3cret!Q"), {"password": "s3cret!Q"}),
        (UserChanges(disabled=True), {"disabled": True}),
        (UserChanges(disabled=False), {"disabled": False}),
        (UserChanges(group_ids=()), {"user_group_ids": []}),
        (
            UserChanges(given_name="A", group_ids=(GROUP_ID,)),
            {"first_name": "A", "user_group_ids": [GROUP_ID]},
        ),
    ],
)
async def test_update_user_patches_only_the_changed_fields(
    api: Api, changes: UserChanges, body: dict[str, Any]
) -> None:
    route = api.router.patch(f"/users/{USER_ID}").respond(200, json=USER)
    await api.session.update_user(USER_ID, changes)
    assert body_of(route) == body


async def test_delete_user_sends_a_delete(api: Api) -> None:
    route = api.router.delete(f"/users/{USER_ID}").respond(204)
    await api.session.delete_user(USER_ID)
    assert sent(route).method == "DELETE"
    assert sent(route).content == b""


# -- user groups ---------------------------------------------------------------------


async def test_group_operations_hit_the_user_groups_paths(api: Api) -> None:
    router, session = api.router, api.session
    get = router.get(f"/user-groups/{GROUP_ID}").respond(200, json=GROUP)
    create = router.post("/user-groups").respond(201, json=GROUP)
    renamed = {**GROUP, "name": "Viewers"}
    rename = router.patch(f"/user-groups/{GROUP_ID}").respond(200, json=renamed)
    delete = router.delete(f"/user-groups/{GROUP_ID}").respond(204)

    assert (await session.get_group(GROUP_ID)).name == "Editors"
    assert (await session.create_group("Editors")).id == GROUP_ID
    assert (await session.rename_group(GROUP_ID, "Viewers")).name == "Viewers"
    await session.delete_group(GROUP_ID)

    assert sent(get).method == "GET"
    assert body_of(create) == {"name": "Editors"}
    assert body_of(rename) == {"name": "Viewers"}
    assert sent(delete).method == "DELETE"


async def test_list_groups_sends_page_and_per_page(api: Api) -> None:
    route = api.router.get("/user-groups").respond(200, json=[GROUP, {**GROUP, "id": "g2"}])
    page = await api.session.list_groups(2, 50)
    assert query_of(route) == {"page": "2", "per_page": "50"}
    assert [g.id for g in page.items] == [GROUP_ID, "g2"]


async def test_find_group_by_name_wants_the_exact_name(api: Api) -> None:
    route = api.router.get("/user-groups").respond(200, json=[{**GROUP, "name": "editors"}])
    assert await api.session.find_group_by_name("Editors") is None
    assert query_of(route) == {"name": "Editors"}
    route.respond(200, json=[{**GROUP, "name": "editors"}, GROUP])
    found = await api.session.find_group_by_name("Editors")
    assert found is not None
    assert found.id == GROUP_ID


# -- ids that could reshape the URL --------------------------------------------------


@pytest.mark.parametrize("bad_id", UNSAFE_IDS)
async def test_unsafe_ids_are_not_found_without_an_upstream_call(api: Api, bad_id: str) -> None:
    catch_all = api.router.route().respond(200, json=USER)
    session = api.session
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: session.get_user(bad_id),
        lambda: session.update_user(bad_id, UserChanges(given_name="X")),
        lambda: session.delete_user(bad_id),
        lambda: session.get_group(bad_id),
        lambda: session.rename_group(bad_id, "X"),
        lambda: session.delete_group(bad_id),
        lambda: session.list_users(1, 10, group_id=bad_id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call()
    assert not catch_all.called


async def test_a_long_id_of_safe_characters_is_sent(api: Api) -> None:
    long_id = "a_B-9" * 25 + "xyz"
    route = api.router.get(f"/users/{long_id}").respond(200, json={**USER, "id": long_id})
    assert (await api.session.get_user(long_id)).id == long_id
    assert route.called


# -- upstream errors -----------------------------------------------------------------


async def fail_with(api: Api, **answer: Any) -> Any:
    """Answer a user creation with ``answer`` and return the exception the adapter raised."""
    api.router.post("/users").respond(**answer)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - callers assert the exact class
        await api.session.create_user(NEW_USER)
    return caught.value


async def test_validation_error_is_invalid_request_with_fields(api: Api) -> None:
    body = {"error": "Validation error", "fields": [{"email": "is invalid"}]}
    exc = await fail_with(api, status_code=400, json=body)
    assert type(exc) is InvalidRequest
    assert exc.status == 400
    assert exc.message == "Validation error"
    assert exc.fields == {"email": "is invalid"}


async def test_message_shaped_error_keeps_the_message(api: Api) -> None:
    exc = await fail_with(api, status_code=400, json={"message": "per_page must be at most 100"})
    assert type(exc) is InvalidRequest
    assert exc.message == "per_page must be at most 100"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, Unauthorized), (404, NotFound), (500, ServerError), (503, ServerError)],
)
async def test_status_decides_the_class(api: Api, status: int, cls: type[UpstreamError]) -> None:
    exc = await fail_with(api, status_code=status, json={"error": "nope"})
    assert type(exc) is cls
    assert exc.status == status


@pytest.mark.parametrize(
    "text", ["User limit reached for your plan", "SCIM provisioning requires the Enhanced plan"]
)
async def test_forbidden_keeps_telemetrytvs_text(api: Api, text: str) -> None:
    exc = await fail_with(api, status_code=403, json={"error": text})
    assert type(exc) is Forbidden
    assert exc.message == text


async def test_taken_email_in_a_400_is_a_conflict(api: Api) -> None:
    exc = await fail_with(api, status_code=400, json={"error": "Email has already been taken"})
    assert type(exc) is Conflict
    assert exc.field == "email"


@pytest.mark.parametrize(
    ("status", "body", "field"),
    [
        (409, {"error": "Email has already been taken"}, "email"),
        (400, {"error": "Invalid", "fields": [{"email": "has already been taken"}]}, "email"),
        (422, {"error": "Validation error", "fields": {"email": ["is already in use"]}}, "email"),
        (400, {"error": "A user with this email already exists"}, "email"),
        (409, {"error": "Name has already been taken"}, "name"),
        (400, {"error": "Validation error", "fields": [{"name": "already exists"}]}, "name"),
        (409, {}, None),
    ],
)
async def test_taken_values_are_conflicts_naming_the_field(
    api: Api, status: int, body: dict[str, Any], field: str | None
) -> None:
    exc = await fail_with(api, status_code=status, json=body)
    assert type(exc) is Conflict
    assert (exc.field, exc.status) == (field, status)


def _retry_after(kind: str) -> dict[str, str]:
    if kind == "seconds":
        return {"Retry-After": "7"}
    if kind == "http-date":
        return {"Retry-After": email.utils.formatdate(time.time() + 120, usegmt=True)}
    raise AssertionError(kind)


@pytest.mark.parametrize(("kind", "expected"), [("seconds", 7), ("http-date", 120)])
async def test_rate_limiting_reads_retry_after(api: Api, kind: str, expected: float) -> None:
    exc = await fail_with(api, status_code=429, headers=_retry_after(kind))
    assert type(exc) is RateLimited
    assert exc.retry_after == pytest.approx(expected, abs=3)


async def test_rate_limiting_without_retry_after_leaves_it_unknown(api: Api) -> None:
    exc = await fail_with(api, status_code=429, json={"error": "Slow down"})
    assert type(exc) is RateLimited
    assert exc.retry_after is None
    assert exc.message == "Slow down"


async def test_rate_limit_with_an_unreadable_retry_after_is_still_rate_limited(api: Api) -> None:
    exc = await fail_with(api, status_code=429, headers={"Retry-After": "soon"})
    assert type(exc) is RateLimited
    assert exc.retry_after is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        *((400, InvalidRequest), (401, Unauthorized), (403, Forbidden), (404, NotFound)),
        *((409, Conflict), (429, RateLimited)),
        *((500, ServerError), (502, ServerError), (503, ServerError)),
    ],
)
async def test_html_error_pages_are_classified_by_status(
    api: Api, status: int, cls: type[UpstreamError]
) -> None:
    page = "<html><body><h1>Something went wrong</h1></body></html>"
    headers = {"Content-Type": "text/html"}
    exc = await fail_with(api, status_code=status, text=page, headers=headers)
    assert type(exc) is cls
    assert "<html>" not in exc.message


@pytest.mark.parametrize("content", [b"<html>ok</html>", b"", b"{not json"])
async def test_a_success_that_is_not_json_is_a_bad_response(api: Api, content: bytes) -> None:
    api.router.get(f"/users/{USER_ID}").respond(200, content=content)
    with pytest.raises(BadResponse):
        await api.session.get_user(USER_ID)


@pytest.mark.parametrize("listing", [{"users": [USER]}, "users", None, 3])
async def test_a_listing_that_is_not_an_array_is_a_bad_response(api: Api, listing: Any) -> None:
    api.router.get("/users").respond(200, json=listing)
    with pytest.raises(BadResponse):
        await api.session.list_users(1, 10)
    with pytest.raises(BadResponse):
        await api.session.find_user_by_email("ada@example.com")


@pytest.mark.parametrize(
    ("raised", "cls"),
    [
        (httpx.ConnectError("refused"), ConnectionFailed),
        (httpx.RemoteProtocolError("reset"), ConnectionFailed),
        (httpx.ReadTimeout("slow"), UpstreamTimeout),
        (httpx.ConnectTimeout("slow"), UpstreamTimeout),
        (httpx.PoolTimeout("busy"), UpstreamTimeout),
    ],
)
async def test_transport_failures_become_upstream_errors(
    api: Api, raised: Exception, cls: type[UpstreamError]
) -> None:
    api.router.get(f"/users/{USER_ID}").mock(side_effect=raised)
    with pytest.raises(cls) as caught:
        await api.session.get_user(USER_ID)
    assert TOKEN not in str(caught.value)


async def test_an_upstream_message_echoing_the_token_is_redacted(api: Api) -> None:
    api.router.get("/users/abc").respond(403, json={"error": f"token {TOKEN} lacks rights"})
    with pytest.raises(Forbidden) as caught:
        await api.session.get_user("abc")
    assert TOKEN not in caught.value.message
    assert "[redacted]" in caught.value.message


async def test_no_cookie_an_answer_sets_rides_along_with_a_later_call() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json=USER, headers={"Set-Cookie": "session=abc; Path=/"})

    tv = TelemetryTV(httpx.MockTransport(answer), base_url=BASE)
    await tv.session("first").get_user(USER_ID)
    await tv.session("second").get_user(USER_ID)
    await tv.aclose()
    assert seen == [None, None]
