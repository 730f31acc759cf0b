"""A PATCH replacing plain attributes is one upstream write, and still a SCIM PATCH."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio

Calls = Callable[[], list[tuple[str, str]]]


async def test_okta_deactivate_is_one_write_answering_the_whole_user(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Calls
) -> None:
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    before = len(upstream_calls())
    response = await client.patch(
        f"/Users/{created['id']}", json=fixture("okta/patch-deactivate-user")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["active"] is False
    assert body["userName"] == created["userName"]
    assert body["name"] == created["name"]
    assert upstream_calls()[before:] == [("PATCH", f"/users/{created['id']}")]
    assert store.get_user(created["id"])["disabled"] is True


async def test_entra_work_email_replace_changes_the_login_in_one_call(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Calls
) -> None:
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    before = len(upstream_calls())
    response = await client.patch(
        f"/Users/{created['id']}", json=fixture("entra/patch-update-work-email")
    )
    assert response.status_code == 200, response.text
    assert response.json()["userName"] == "updatedEmail@contoso.com"
    assert response.json()["emails"][0]["value"] == "updatedEmail@contoso.com"
    assert len(upstream_calls()) - before == 1
    assert store.get_user(created["id"])["email"] == "updatedEmail@contoso.com"


@pytest.mark.parametrize("user_id", ["0123456789abcdef01234567", "no such/id"])
async def test_unknown_user_is_a_scim_404(client: httpx.AsyncClient, user_id: str) -> None:
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json()["status"] == "404"


async def test_email_taken_by_another_user_is_a_scim_409(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    store.create_user({"email": "updatedEmail@contoso.com", "password": "Secr3t!pass"})
    response = await client.patch(
        f"/Users/{created['id']}", json=fixture("entra/patch-update-work-email")
    )
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert store.get_user(created["id"])["email"] == created["userName"]
