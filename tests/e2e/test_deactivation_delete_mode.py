"""``users.deactivation = "delete"``: deactivating deletes the TelemetryTV user."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.ops.config import Deactivation, Settings
from scim_proxy.simulator import SimulatorStore
from tests.conftest import UPSTREAM, fixture

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings() -> Settings:
    """Deactivation mapped to deletion."""
    return (
        Settings()
        .replace("upstream", base_url=UPSTREAM)
        .replace("users", deactivation=Deactivation.delete)
    )


@pytest.mark.parametrize("dialect", ["patch", "put"])
async def test_deactivation_deletes_the_user(
    client: httpx.AsyncClient, store: SimulatorStore, dialect: str
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    count = store.user_count
    if dialect == "patch":
        response = await client.patch(
            f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user")
        )
    else:
        response = await client.put(
            f"/Users/{user_id}", json=fixture("okta/put-deactivate-user", id=user_id)
        )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert store.user_count == count - 1
    assert (await client.get(f"/Users/{user_id}")).status_code == 404


async def test_profile_updates_still_apply_in_delete_mode(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-update-profile"))
    assert response.status_code == 200
    assert store.get_user(user_id)["first_name"] == "Ana Maria"


async def test_a_password_sync_keeps_a_user_disabled_upstream(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Callable[[], list[object]]
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    store.update_user(user_id, {"disabled": True})  # disabled in TelemetryTV itself
    before = len(upstream_calls())
    response = await client.patch(
        f"/Users/{user_id}", json=fixture("okta/patch-sync-password-pathless")
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert store.get_user(user_id)["disabled"] is True  # not deleted
    assert len(upstream_calls()) - before == 1  # no deactivation involved: straight to the write


async def test_deactivation_in_delete_mode_still_reads_first(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Callable[[], list[object]]
) -> None:
    created = await client.post("/Users", json=fixture("okta/create-user"))
    user_id = created.json()["id"]
    before = len(upstream_calls())
    response = await client.patch(f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user"))
    assert response.status_code == 200, response.text
    assert response.json()["name"]["givenName"] == created.json()["name"]["givenName"]
    assert [m for m, _ in upstream_calls()[before:]] == ["GET", "DELETE"]
