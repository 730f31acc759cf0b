"""Store-level properties: ids, timestamps, seeding, settings validation, performance."""

from __future__ import annotations

import re

import pytest

from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from scim_proxy.simulator.model import FieldValidationError, NotFoundError, format_millis

ID_PATTERN = re.compile(r"[0-9a-f]{24}")
TIMESTAMP_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class FakeClock:
    """A settable epoch-seconds clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_user(store: SimulatorStore, email: str) -> str:
    return store.create_user({"email": email, "password": "long enough"})["id"]


def test_ids_are_24_lowercase_hex_and_sort_in_creation_order() -> None:
    store = SimulatorStore(SimulatorSettings(users=5))
    ids = [new_user(store, f"n{n}@example.com") for n in range(5)]
    group_id = store.create_group({"name": "G"})["id"]
    listed, _ = store.list_users(per_page=100)
    all_ids = [user["id"] for user in listed]
    assert all(ID_PATTERN.fullmatch(i) for i in [*all_ids, group_id])
    assert all_ids == sorted(all_ids)
    assert all_ids[-5:] == ids
    assert len(set(all_ids)) == len(all_ids)


def test_id_starts_with_the_creation_second() -> None:
    store = SimulatorStore(clock=FakeClock(0x6543210F + 0.5))
    assert new_user(store, "a@example.com").startswith("6543210f")


def test_ids_stay_sorted_when_the_clock_steps_backwards() -> None:
    clock = FakeClock(2_000_000_000)
    store = SimulatorStore(clock=clock)
    first = new_user(store, "a@example.com")
    clock.now = 1_000_000_000
    second = new_user(store, "b@example.com")
    assert first < second
    store.delete_user(first)  # bisect-based removal relies on sorted ids
    assert [u["id"] for u in store.list_users()[0]] == [store.owner_id, second]


def test_ids_are_unique_across_stores_in_one_process() -> None:
    clock = FakeClock(1_800_000_000)
    first = SimulatorStore(clock=clock)
    second = SimulatorStore(clock=clock)
    assert {first.owner_id, first.admin_group_id}.isdisjoint(
        {second.owner_id, second.admin_group_id}
    )


def test_seed_sets_a_floor_for_the_id_counter() -> None:
    store = SimulatorStore(SimulatorSettings(seed=2**40))
    assert int(store.admin_group_id[8:], 16) >= 2**40


def test_timestamps_are_iso_utc_with_milliseconds() -> None:
    assert format_millis(1_795_877_129_123) == "2026-11-28T14:45:29.123Z"
    assert format_millis(5) == "1970-01-01T00:00:00.005Z"
    store = SimulatorStore(clock=FakeClock(1_795_877_129.1239))
    owner = store.get_user(store.owner_id)
    assert owner["created_at"] == "2026-11-28T14:45:29.123Z"
    assert TIMESTAMP_PATTERN.fullmatch(owner["updated_at"])


def test_updated_at_changes_on_every_write_even_within_one_millisecond() -> None:
    store = SimulatorStore(clock=FakeClock(1_795_877_129.0))
    user_id = new_user(store, "a@example.com")
    seen = [store.get_user(user_id)["updated_at"]]
    for n in range(3):
        seen.append(store.update_user(user_id, {"first_name": f"N{n}"})["updated_at"])
    assert seen == sorted(set(seen))
    assert len(seen) == 4
    assert store.get_user(user_id)["created_at"] == seen[0]


def test_reads_return_copies_not_live_state() -> None:
    store = SimulatorStore()
    owner = store.get_user(store.owner_id)
    owner["user_group_ids"].clear()
    owner["email"] = "hacked@example.com"
    assert store.get_user(store.owner_id)["user_group_ids"] == [store.admin_group_id]
    assert store.get_user(store.owner_id)["email"] == "owner@example.com"


def test_store_errors_carry_client_messages() -> None:
    store = SimulatorStore()
    with pytest.raises(NotFoundError, match="User not found"):
        store.get_user("nope")
    with pytest.raises(FieldValidationError) as caught:
        store.create_user({})
    assert caught.value.fields == [{"email": "is required"}, {"password": "is required"}]


def test_password_of_unknown_user_is_none() -> None:
    assert SimulatorStore().password_of("ffffffffffffffffffffffff") is None


def test_seeding_fifty_thousand_users_makes_them_all_listable() -> None:
    # The size bench/run.py's import runs against (no timing: tests never assert speed).
    store = SimulatorStore(SimulatorSettings(users=50_000))
    assert store.user_count == 50_001
    page, total = store.list_users(page=51, per_page=1000)
    assert total == 50_001
    assert [user["email"] for user in page] == ["user50000@example.com"]


def test_seed_varies_the_seeded_names() -> None:
    def names(seed: int) -> list[tuple[str, str]]:
        users, _ = SimulatorStore(SimulatorSettings(users=10, seed=seed)).list_users()
        return [(u["first_name"], u["last_name"]) for u in users[1:]]

    assert names(0) == names(0)
    assert names(0) != names(3)


def test_owner_email_colliding_with_a_seeded_user_is_refused() -> None:
    with pytest.raises(ValueError, match="collides"):
        SimulatorStore(SimulatorSettings(users=2, owner_email="user0002@example.com"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"token": ""},
        {"auth_schemes": ()},
        {"auth_schemes": ("token", "digest")},
        {"users": -1},
        {"max_per_page": 0},
        {"default_per_page": 0},
        {"default_per_page": 20, "max_per_page": 10},
        {"user_limit": -1},
        {"seed": -1},
        {"owner_email": "not an email"},
    ],
)
def test_invalid_settings_are_refused_up_front(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is incidental here
        SimulatorSettings(**overrides)  # type: ignore[arg-type]
