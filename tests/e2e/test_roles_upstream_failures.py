"""Roles when TelemetryTV fails part of a request: reads still succeed, writes say what is
in place.

A read's roles need the groups' names, from a listing separate from the user read; when
that listing fails the read is served with the names last listed, or with each role's
``value`` only. A PATCH or PUT changing the profile and the roles writes the profile
first, then the memberships: when the memberships fail, the error says the profile was
applied and how many of the role changes are in place, and sending it again finishes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from scim_proxy.simulator import SimulatorStore
from tests.conftest import BASE, TOKEN, fixture, proxy_settings

pytestmark = pytest.mark.anyio


class FailingUpstream(httpx.AsyncBaseTransport):
    """The simulator, except for the calls told to fail.

    ``listings_fail``: every group listing. ``writes_adding``: every user write whose
    group list holds one of these groups (the membership writes that would add them).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.listings_fail = False
        self.writes_adding: set[str] = set()
        self.failure = httpx.Response(503, json={"error": "Service Unavailable"})
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if self.listings_fail and request.method == "GET" and path == "/user-groups":
            return self._fail()
        if request.method == "PATCH" and path.startswith("/users/"):
            groups = json.loads(request.content).get("user_group_ids") or []
            if self.writes_adding & set(groups):
                return self._fail()
        return await self.inner.handle_async_request(request)

    def _fail(self) -> httpx.Response:
        return httpx.Response(
            self.failure.status_code, json=self.failure.json(), headers=self.failure.headers
        )


@pytest.fixture
def settings() -> Settings:
    """No retries of a failed call, and a breaker that stays closed through the failures."""
    return proxy_settings().replace("upstream", retry_attempts=1, breaker_failures=1000)


@pytest.fixture
def upstream(simulator: ASGIApp) -> FailingUpstream:
    """The upstream transport of the proxy under test."""
    return FailingUpstream(simulator)


@pytest.fixture
async def client(settings: Settings, upstream: FailingUpstream) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a proxy whose upstream fails what the test says."""
    app = create_app(settings, upstream_transport=upstream)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http


def _unavailable(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == "role_names_unavailable"]


async def test_user_reads_succeed_with_role_values_when_group_names_cannot_be_listed(
    client: httpx.AsyncClient, store: SimulatorStore, upstream: FailingUpstream
) -> None:
    owner = store.get_user(store.owner_id)
    admin = owner["user_group_ids"][0]
    upstream.listings_fail = True
    with capture_logs() as logs:
        by_id = await client.get(f"/Users/{store.owner_id}")
        page = await client.get("/Users", params={"count": 5})
        lookup = await client.get("/Users", params={"filter": f'userName eq "{owner["email"]}"'})
    assert [by_id.status_code, page.status_code, lookup.status_code] == [200, 200, 200]
    assert by_id.json()["roles"] == [{"value": admin}]
    assert lookup.json()["Resources"][0]["roles"] == [{"value": admin}]
    listed = {u["id"]: u for u in page.json()["Resources"]}
    assert listed[store.owner_id]["roles"] == [{"value": admin}]
    events = _unavailable(logs)
    assert len(events) == 3, "one warning per read"
    assert events[0]["log_level"] == "warning"
    assert events[0]["reason"] == "ServerError"
    assert (events[0]["groups"], events[0]["named"]) == (1, 0)


async def test_a_read_shows_the_names_last_listed_when_a_fresh_listing_fails(
    client: httpx.AsyncClient, store: SimulatorStore, upstream: FailingUpstream
) -> None:
    group_id = (await client.post("/Groups", json=fixture("okta/group-create"))).json()["id"]
    grant = fixture("okta/patch-grant-role", role_id=group_id, role_name="Sales EMEA")
    user_id = (await client.post("/Users", json=fixture("okta/create-user"))).json()["id"]
    assert (await client.patch(f"/Users/{user_id}", json=grant)).status_code == 200
    # A rename through the proxy expires the kept listing: the next read lists afresh.
    rename = fixture("okta/group-patch-rename", id=group_id)
    assert (await client.patch(f"/Groups/{group_id}", json=rename)).status_code in (200, 204)
    upstream.listings_fail = True
    with capture_logs() as logs:
        read = await client.get(f"/Users/{user_id}")
    assert read.status_code == 200
    assert read.json()["roles"] == [{"value": group_id, "display": "Sales EMEA"}]
    assert [(e["groups"], e["named"]) for e in _unavailable(logs)] == [(1, 1)]


async def test_a_profile_patch_is_answered_with_the_user_when_group_names_cannot_be_listed(
    client: httpx.AsyncClient, store: SimulatorStore, upstream: FailingUpstream
) -> None:
    upstream.listings_fail = True
    patched = await client.patch(
        f"/Users/{store.owner_id}", json=fixture("okta/patch-update-profile")
    )
    assert patched.status_code == 200, "the write was applied: the answer must say so"
    assert patched.json()["name"]["givenName"] == store.get_user(store.owner_id)["first_name"]
    assert "display" not in patched.json()["roles"][0]


async def test_profile_applied_but_role_write_failed_says_so_and_a_resend_finishes(
    client: httpx.AsyncClient, store: SimulatorStore, upstream: FailingUpstream
) -> None:
    user_id = (await client.post("/Users", json=fixture("entra/create-user"))).json()["id"]
    lobby = str(store.create_group({"name": "Lobby"})["id"])
    upstream.writes_adding = {lobby}
    body = fixture("entra/patch-profile-and-app-role", given_name="Changed", role="Lobby")

    failed = await client.patch(f"/Users/{user_id}", json=body)

    assert failed.status_code == 502
    assert failed.headers["content-type"].startswith("application/scim+json")
    detail = failed.json()["detail"]
    assert detail.startswith("The profile changes were applied, but the role changes")
    assert "are not all in place: 0 of 1 are, 1 not" in detail
    assert "TelemetryTV failed with status 503" in detail
    assert detail.endswith("send the request again to finish, it converges")
    held = store.get_user(user_id)
    assert held["first_name"] == "Changed", "the detail says what TelemetryTV holds"
    assert lobby not in held["user_group_ids"]

    upstream.writes_adding = set()
    resent = await client.patch(f"/Users/{user_id}", json=body)
    assert resent.status_code == 200
    assert resent.json()["name"]["givenName"] == "Changed"
    assert {"value": lobby, "display": "Lobby"} in resent.json()["roles"]


async def test_a_put_failing_in_its_roles_says_the_profile_was_applied(
    client: httpx.AsyncClient, store: SimulatorStore, upstream: FailingUpstream
) -> None:
    user_id = (await client.post("/Users", json=fixture("okta/create-user"))).json()["id"]
    lobby = str(store.create_group({"name": "Lobby"})["id"])
    upstream.writes_adding = {lobby}
    body = fixture("okta/put-with-roles", id=user_id, role_id=lobby, role_name="Lobby")
    body["name"]["givenName"] = "Renamed"

    failed = await client.put(f"/Users/{user_id}", json=body)

    assert failed.status_code == 502
    detail = failed.json()["detail"]
    assert detail.startswith("The profile changes were applied, but the role changes")
    assert "0 of 1 are, 1 not" in detail
    assert store.get_user(user_id)["first_name"] == "Renamed"


async def test_a_failed_role_write_counts_the_whole_request_and_writes_nothing_partial(
    client: httpx.AsyncClient, store: SimulatorStore, upstream: FailingUpstream
) -> None:
    user_id = (await client.post("/Users", json=fixture("okta/create-user"))).json()["id"]
    groups = [str(store.create_group({"name": name})["id"]) for name in ("A", "B", "C")]
    upstream.writes_adding = {groups[2]}
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "roles", "value": [{"value": g} for g in groups]}],
    }

    failed = await client.patch(f"/Users/{user_id}", json=body)

    assert failed.status_code == 502
    detail = failed.json()["detail"]
    assert detail.startswith("The role changes (TelemetryTV group memberships) are not all")
    assert "profile" not in detail, "nothing else was asked, so nothing else is claimed"
    # Every group of the request goes in one write of the user's list: all or none.
    assert "0 of 3 are, 3 not" in detail
    assert store.get_user(user_id)["user_group_ids"] == []


async def test_a_throttled_role_write_passes_the_wait_on_without_reading_back(
    client: httpx.AsyncClient,
    store: SimulatorStore,
    upstream: FailingUpstream,
) -> None:
    user_id = (await client.post("/Users", json=fixture("okta/create-user"))).json()["id"]
    lobby = str(store.create_group({"name": "Lobby"})["id"])
    upstream.writes_adding = {lobby}
    upstream.failure = httpx.Response(
        429, json={"error": "slow down"}, headers={"Retry-After": "7"}
    )
    upstream.calls.clear()

    failed = await client.patch(
        f"/Users/{user_id}", json=fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby")
    )

    assert failed.status_code == 429
    assert failed.headers["retry-after"] == "7"
    detail = failed.json()["detail"]
    assert "may not all be in place, and which of the 1 are could not be checked" in detail
    assert "send the request again after 7 seconds" in detail
    user_calls = [method for method, path in upstream.calls if path == f"/users/{user_id}"]
    assert user_calls[-1] == "PATCH", "no read after TelemetryTV asked to wait"
