"""Attributes TelemetryTV cannot store are dropped visibly: named in the logs, counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from scim_proxy.simulator import SimulatorStore
from tests.conftest import fixture

pytestmark = pytest.mark.anyio

QUIRK = "unstorable_attribute_dropped"


def _count() -> float:
    return REGISTRY.get_sample_value("scim_proxy_quirks_total", {"quirk": QUIRK}) or 0.0


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


async def test_entras_create_names_every_dropped_attribute_and_no_value(
    client: httpx.AsyncClient,
) -> None:
    before = _count()
    with capture_logs() as logs:
        response = await client.post("/Users", json=fixture("entra/create-user"))
    assert response.status_code == 201
    [dropped] = _events(logs, "attributes_dropped")
    extension = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert dropped["resource"] == "User"
    assert dropped["attributes"] == [
        "externalId",
        "name.formatted",
        f"{extension}:employeeNumber",
        f"{extension}:department",
    ]
    for value in ("0a21f0f2", "givenName familyName", "701984", "Sales"):
        assert value not in repr(dropped)
    [outcome] = _events(logs, "request")
    assert QUIRK in outcome["quirks"]
    assert _count() == before + 1


async def test_oktas_create_names_its_unstorable_attributes(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        response = await client.post("/Users", json=fixture("okta/create-user"))
    assert response.status_code == 201
    [dropped] = _events(logs, "attributes_dropped")
    assert dropped["attributes"] == ["displayName", "locale", "externalId"]


async def test_a_patch_of_an_unstorable_attribute_is_named(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    with capture_logs() as logs:
        response = await client.patch(
            f"/Users/{created['id']}", json=fixture("entra/patch-add-nickname")
        )
    assert response.status_code == 200
    [dropped] = _events(logs, "attributes_dropped")
    assert dropped["attributes"] == ["nickName"]
    assert "Babs" not in repr(logs)


async def test_a_request_with_only_storable_attributes_drops_nothing(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    before = _count()
    with capture_logs() as logs:
        response = await client.patch(
            f"/Users/{created['id']}", json=fixture("okta/patch-deactivate-user")
        )
    assert response.status_code == 200
    assert _events(logs, "attributes_dropped") == []
    assert _count() == before


async def test_a_role_grant_drops_nothing(client: httpx.AsyncClient, store: SimulatorStore) -> None:
    lobby = str(store.create_group({"name": "Lobby Screens"})["id"])
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    before = _count()
    with capture_logs() as logs:
        response = await client.patch(
            f"/Users/{created['id']}",
            json=fixture("okta/patch-grant-role", role_id=lobby, role_name="Lobby Screens"),
        )
    assert response.status_code == 200, response.text
    assert store.get_user(created["id"])["user_group_ids"] == [lobby]
    assert _events(logs, "attributes_dropped") == []
    [outcome] = _events(logs, "request")
    assert QUIRK not in outcome["quirks"]
    assert _count() == before


async def test_entras_app_roles_are_not_named_among_the_dropped(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    for name in ("Lobby Screens", "Content Editors"):
        store.create_group({"name": name})
    with capture_logs() as logs:
        response = await client.post("/Users", json=fixture("entra/create-user-app-roles-complex"))
    assert response.status_code == 201, response.text
    assert len(store.get_user(response.json()["id"])["user_group_ids"]) == 2
    [dropped] = _events(logs, "attributes_dropped")
    assert dropped["attributes"] == ["externalId", "name.formatted"]


async def test_a_role_sub_attribute_patched_on_its_own_is_reported_once(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    store.create_group({"name": "Lobby Screens"})
    created = (await client.post("/Users", json=fixture("okta/create-user"))).json()
    with capture_logs() as logs:
        response = await client.patch(
            f"/Users/{created['id']}",
            json=fixture("entra/patch-single-app-role", role="Lobby Screens"),
        )
    assert response.status_code == 200, response.text
    assert _events(logs, "attributes_dropped") == []
    [outcome] = _events(logs, "request")
    assert outcome["quirks"] == ["role_sub_attribute_ignored"]
