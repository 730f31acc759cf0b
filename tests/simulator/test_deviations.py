"""The simulator's deviations: each plays one wrong guess, and nothing else changes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from scim_proxy.simulator import SimulatorSettings
from scim_proxy.simulator.deviations import DEVIATIONS

from .conftest import Sim

pytestmark = pytest.mark.anyio


async def test_memberships_ignored_accepts_group_lists_and_stores_none(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(deviations=("memberships-ignored",))
    group = await sim.create_group("Sales")
    user = await sim.create_user("ana@example.com", user_group_ids=[group["id"]])
    assert user["user_group_ids"] == []
    patched = await sim.client.patch(
        f"/users/{user['id']}", json={"user_group_ids": [group["id"]], "first_name": "Ana"}
    )
    assert patched.status_code == 200
    assert patched.json()["user_group_ids"] == []
    assert patched.json()["first_name"] == "Ana", "the rest of the write is stored"
    assert sim.store.get_user(user["id"])["user_group_ids"] == []


async def test_disabled_ignored_accepts_the_flag_and_stores_nothing(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(deviations=("disabled-ignored",))
    user = await sim.create_user("ana@example.com", disabled=True)
    assert user["disabled"] is False
    patched = await sim.client.patch(f"/users/{user['id']}", json={"disabled": True})
    assert patched.status_code == 200
    assert sim.store.get_user(user["id"])["disabled"] is False


async def test_email_change_ignored_keeps_the_address_but_creates_with_one(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(deviations=("email-change-ignored",))
    user = await sim.create_user("ana@example.com")
    assert user["email"] == "ana@example.com"
    patched = await sim.client.patch(f"/users/{user['id']}", json={"email": "ana.b@example.com"})
    assert patched.status_code == 200
    assert sim.store.get_user(user["id"])["email"] == "ana@example.com"


async def test_group_rename_ignored_answers_the_group_unrenamed(
    make_sim: Callable[..., Sim],
) -> None:
    sim = make_sim(deviations=("group-rename-ignored",))
    group = await sim.create_group("Sales")
    renamed = await sim.client.patch(f"/user-groups/{group['id']}", json={"name": "Sales EMEA"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Sales"


async def test_refusals_answer_in_the_contracts_error_shape(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(deviations=("user-update-refused", "user-delete-refused"))
    user = await sim.create_user("ana@example.com")
    patched = await sim.client.patch(f"/users/{user['id']}", json={"first_name": "Ana"})
    assert (patched.status_code, patched.json()) == (405, {"error": "Method not allowed"})
    deleted = await sim.client.delete(f"/users/{user['id']}")
    assert deleted.status_code == 403
    assert "error" in deleted.json()
    assert sim.store.get_user(user["id"])["first_name"] == ""
    # Groups are untouched by these two.
    group = await sim.create_group("Sales")
    assert (await sim.client.delete(f"/user-groups/{group['id']}")).status_code == 204


async def test_a_wrong_token_is_still_refused_first(make_sim: Callable[..., Sim]) -> None:
    sim = make_sim(deviations=tuple(DEVIATIONS))
    user = await sim.create_user("ana@example.com")
    response = await sim.client.delete(
        f"/users/{user['id']}", headers={"Authorization": "Token wrong"}
    )
    assert response.status_code == 401


async def test_without_deviations_the_same_writes_are_stored(sim: Sim) -> None:
    group = await sim.create_group("Sales")
    user = await sim.create_user("ana@example.com", user_group_ids=[group["id"]], disabled=True)
    assert (user["user_group_ids"], user["disabled"]) == ([group["id"]], True)


def test_an_unknown_deviation_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown deviation") as raised:
        SimulatorSettings(deviations=("memberships-ignored", "groups-vanish"))
    assert "'groups-vanish'" in str(raised.value)
    for name in DEVIATIONS:
        assert name in str(raised.value)


def test_the_command_refuses_an_unknown_deviation_listing_the_known_ones() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scim_proxy", "simulator", "--deviation", "disabled-ignored,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown deviation(s) 'nope'" in result.stderr
    assert "memberships-ignored" in result.stderr
    assert "Traceback" not in result.stderr
