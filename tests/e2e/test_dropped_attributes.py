"""Attributes TelemetryTV cannot store are dropped visibly: named in the logs, counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

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
