"""What the membership-writer tests share: a seeded user with fresh groups, and its groups."""

from __future__ import annotations

from scim_proxy.simulator import SimulatorStore


def seeded_user_and_groups(store: SimulatorStore, groups: int) -> tuple[str, list[str]]:
    """A seeded user (not the account owner) and ``groups`` new groups, in creation order."""
    users, _ = store.list_users(page=1, per_page=10)
    user_id = next(u["id"] for u in users if u["id"] != store.owner_id)
    return user_id, [store.create_group({"name": f"G{i}"})["id"] for i in range(groups)]


def groups_of(store: SimulatorStore, user_id: str) -> set[str]:
    """The user's group ids as TelemetryTV (the simulator) holds them."""
    return set(store.get_user(user_id)["user_group_ids"])
