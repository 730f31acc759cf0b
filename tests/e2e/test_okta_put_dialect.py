"""Okta App Integration Wizard apps: every update is GET by id, then PUT of the whole user."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from structlog.testing import capture_logs

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio

LOOKUP = "/Users?filter=userName%20eq%20%22ana.lima%40example.com%22&startIndex=1&count=100"


async def _assigned_user(client: httpx.AsyncClient) -> str:
    """Okta's assignment: look the user up, find nothing, create it."""
    lookup = await client.get(LOOKUP)
    assert lookup.status_code == 200
    assert lookup.json()["totalResults"] == 0
    created = await client.post("/Users", json=fixture("okta/create-user"))
    assert created.status_code == 201
    return str(created.json()["id"])


async def test_assignment_creates_the_user_with_its_password(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _assigned_user(client)
    held = store.get_user(user_id)
    assert held["email"] == "ana.lima@example.com"
    assert (held["first_name"], held["last_name"]) == ("Ana", "Lima")
    assert store.password_of(user_id) == "tmpX9q2k!Okta"


async def test_profile_update_is_get_then_put(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _assigned_user(client)
    assert (await client.get(f"/Users/{user_id}")).status_code == 200
    response = await client.put(
        f"/Users/{user_id}", json=fixture("okta/put-update-profile", id=user_id)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"]["givenName"] == "Ana Maria"
    assert body["name"]["familyName"] == "Lima-Souza"
    held = store.get_user(user_id)
    assert (held["first_name"], held["last_name"]) == ("Ana Maria", "Lima-Souza")


async def test_deactivation_by_put_keeps_the_user_readable(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _assigned_user(client)
    response = await client.put(
        f"/Users/{user_id}", json=fixture("okta/put-deactivate-user", id=user_id)
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert store.get_user(user_id)["disabled"] is True

    again = await client.get(f"/Users/{user_id}")
    assert again.status_code == 200
    assert again.json()["active"] is False
    assert again.json()["id"] == user_id


async def test_reactivation_by_put_keeps_the_same_id(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _assigned_user(client)
    await client.put(f"/Users/{user_id}", json=fixture("okta/put-deactivate-user", id=user_id))
    response = await client.put(
        f"/Users/{user_id}", json=fixture("okta/put-reactivate-user", id=user_id)
    )
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert response.json()["id"] == user_id
    assert store.get_user(user_id)["disabled"] is False


async def test_password_sync_by_put_forwards_the_password_and_never_returns_it(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _assigned_user(client)
    response = await client.put(
        f"/Users/{user_id}", json=fixture("okta/put-sync-password", id=user_id)
    )
    assert response.status_code == 200
    assert "password" not in response.json()
    assert "n3w-Secret!pw" not in response.text
    assert store.password_of(user_id) == "n3w-Secret!pw"


async def test_email_change_is_pushed(client: httpx.AsyncClient, store: SimulatorStore) -> None:
    user_id = await _assigned_user(client)
    response = await client.put(
        f"/Users/{user_id}", json=fixture("okta/put-change-email", id=user_id)
    )
    assert response.status_code == 200
    assert store.get_user(user_id)["email"] == "ana.souza@example.com"
    assert response.json()["emails"][0]["value"] == "ana.souza@example.com"


async def test_username_change_alone_is_ignored_and_logged(
    client: httpx.AsyncClient,
    store: SimulatorStore,
    upstream_calls: Callable[[], list[tuple[str, str]]],
) -> None:
    user_id = await _assigned_user(client)
    before = store.get_user(user_id)
    calls_before = len(upstream_calls())
    with capture_logs() as logs:
        response = await client.put(
            f"/Users/{user_id}", json=fixture("okta/put-change-username-only", id=user_id)
        )
    assert response.status_code == 200
    assert store.get_user(user_id) == before
    # Nothing else changed, so nothing is written: one read, no update.
    assert upstream_calls()[calls_before:] == [("GET", f"/users/{user_id}")]
    warnings = [e for e in logs if e["event"] == "username_change_ignored"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    outcome = next(e for e in logs if e["event"] == "request")
    assert "username_change_ignored" in outcome["quirks"]


async def test_put_ignores_read_only_and_unknown_attributes(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = await _assigned_user(client)
    body = fixture("okta/put-update-profile", id=user_id)
    body["id"] = "something-else"
    body["groups"] = [{"value": "g-1", "display": "Sales"}]
    body["meta"] = {"resourceType": "User", "created": "2001-01-01T00:00:00Z"}
    body["nickName"] = "Ani"
    response = await client.put(f"/Users/{user_id}", json=body)
    assert response.status_code == 200
    assert response.json()["id"] == user_id
    assert "nickName" not in response.json()
    assert "groups" not in response.json()
    assert store.get_user(user_id)["user_group_ids"] == []


async def test_put_on_an_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/Users/010101001010101011001010101011",
        json=fixture("okta/put-update-profile", id="010101001010101011001010101011"),
    )
    assert response.status_code == 404
    assert response.json()["status"] == "404"
