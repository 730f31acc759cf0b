"""Whatever fails or interrupts ``check --write``, it leaves nothing behind, or lists it.

Each of the run's writes in turn is failed (a 500, a refusal, an answer lost after the
write was applied, on every retry), or is where the check is interrupted (as SIGINT or
SIGTERM would; tests/account_check/test_signals.py sends real ones). Then the simulated
account must hold exactly what it held before, or hold beyond that exactly what the
report's last lines list, by id and name.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from scim_proxy.account_check.report import Report, Status
from scim_proxy.account_check.step_texts import ITEMS
from scim_proxy.simulator import SimulatorStore
from tests.account_check.harness import (
    FULL_RUN_WRITES,
    Upstream,
    run_check,
    simulator,
    state,
    statuses,
)

pytestmark = pytest.mark.anyio

EVERY_WRITE = range(1, FULL_RUN_WRITES + 1)
MEMBERSHIP_WRITES = (9, 10)


def assert_left_as_listed(
    report: Report, store: SimulatorStore, before: tuple[list[Any], list[Any]]
) -> None:
    """The account holds what it held before, untouched, plus exactly the leftovers listed."""
    users, groups = state(store)
    before_users, before_groups = before
    assert [u for u in users if u["id"] in {b["id"] for b in before_users}] == before_users
    assert [g for g in groups if g["id"] in {b["id"] for b in before_groups}] == before_groups
    extra = {("user", u["id"]): u["email"] for u in users if u not in before_users}
    extra |= {("group", g["id"]): g["name"] for g in groups if g not in before_groups}
    listed = {(x.kind, x.id): x.names for x in report.leftovers if x.id is not None}
    assert set(extra) == set(listed), report.leftovers
    for key, name in extra.items():
        assert name in listed[key]
    unknown = [x for x in report.leftovers if x.id is None]
    for leftover in unknown:
        assert leftover.names[0] not in extra.values()
    assert (report.exit_code() == 3) == bool(report.leftovers)


@pytest.mark.parametrize("how", ["500", "refused", "lost"])
@pytest.mark.parametrize("write", EVERY_WRITE)
async def test_a_failed_write_leaves_nothing_behind(write: int, how: str) -> None:
    app = simulator()
    before = state(app.state.store)
    report, _ = await run_check(Upstream(app, fail_write=write, how=how))
    assert state(app.state.store) == before
    assert report.leftovers == []
    failed = [item for item in report.items if item.status is Status.FAIL]
    if failed:
        assert report.exit_code() == 1
    else:
        # Only the membership writer recovers by itself: it reads the user again, and
        # writes again unless the lost write was applied.
        assert write in MEMBERSHIP_WRITES
        assert how in ("500", "lost")
        assert report.exit_code() == 0


@pytest.mark.parametrize("write", [1, 2, 7, 9, 11, 12])
async def test_when_the_deletes_fail_too_the_leftovers_are_listed(write: int) -> None:
    app = simulator()
    before = state(app.state.store)
    upstream = Upstream(app, fail_write=write, how="lost", fail_deletes_from=write)
    report, _ = await run_check(upstream)
    assert_left_as_listed(report, app.state.store, before)
    assert report.leftovers, "every delete failed: something must be left"
    assert all("500" in x.why for x in report.leftovers if x.id is not None)


async def test_a_create_whose_answer_was_lost_is_found_by_its_name_and_removed() -> None:
    app = simulator()
    before = state(app.state.store)
    report, _ = await run_check(Upstream(app, fail_write=1, how="lost"))
    assert statuses(report)["create user"] == "FAIL"
    lookups = [
        e for e in report.cleanup if e.method == "GET" and e.target.startswith("/users?email=")
    ]
    assert len(lookups) == 1
    assert state(app.state.store) == before


@pytest.mark.parametrize("applied", [False, True], ids=["before-sending", "answer-lost"])
@pytest.mark.parametrize("write", EVERY_WRITE)
async def test_an_interruption_at_any_write_still_cleans_up(write: int, applied: bool) -> None:
    app = simulator()
    before = state(app.state.store)
    signum = signal.SIGINT if write % 2 else signal.SIGTERM
    upstream = Upstream(app, interrupt_at={write: signum}, interrupt_after_applying=applied)
    report, _ = await run_check(upstream)
    assert state(app.state.store) == before
    assert report.leftovers == []
    assert report.interrupted == signum.name
    assert report.exit_code() == 128 + signum
    found = statuses(report)
    assert list(found) == list(ITEMS)
    stopped = [name for name, status in found.items() if status == "SKIPPED"]
    assert stopped == list(ITEMS)[write - 1 :]
    assert all("interrupt" in i.detail for i in report.items if i.name in stopped)


@pytest.mark.parametrize("write", [1, 4, 8, 10])
async def test_a_second_interruption_stops_the_clean_up_and_lists_what_is_left(
    write: int,
) -> None:
    app = simulator()
    before = state(app.state.store)
    upstream = Upstream(
        app,
        interrupt_at={write: signal.SIGTERM},
        interrupt_after_applying=True,
        interrupt_on_cleanup=signal.SIGINT,
    )
    report, _ = await run_check(upstream)
    assert_left_as_listed(report, app.state.store, before)
    assert report.leftovers
    assert report.exit_code() == 3
    assert any("stopped" in x.why for x in report.leftovers)


async def test_a_bug_in_one_item_fails_it_and_the_rest_still_runs_and_cleans_up() -> None:
    app = simulator()
    before = state(app.state.store)
    handed: list[str] = []

    def passwords() -> str:
        if handed:
            raise RuntimeError("no more passwords")
        handed.append("Only-One-Password-7!")
        return handed[-1]

    report, _ = await run_check(app, passwords=passwords)
    item = next(i for i in report.items if i.name == "change password")
    assert item.status is Status.FAIL
    assert "RuntimeError: no more passwords" in item.detail
    assert statuses(report)["delete user"] == "PASS"
    assert state(app.state.store) == before


async def test_an_interruption_during_the_read_checks_writes_nothing() -> None:
    app = simulator()
    upstream = Upstream(app)
    upstream.interrupts.interrupt(signal.SIGINT)
    report, _ = await run_check(upstream)
    assert app.state.requests == []
    assert report.exit_code() == 130
    assert report.items == []


async def test_an_error_outside_the_items_stops_them_and_still_cleans_up() -> None:
    app = simulator()
    before = state(app.state.store)
    failed: list[str] = []

    def emit(lines: list[str]) -> None:
        if lines[0].startswith("PASS  update names") and not failed:
            failed.append(lines[0])
            raise RuntimeError("the terminal went away")

    report, _ = await run_check(app, emit=emit)
    assert failed
    broken = next(i for i in report.items if i.name == "the check itself")
    assert "RuntimeError: the terminal went away" in broken.detail
    assert statuses(report)["delete user"] == "SKIPPED"
    assert report.exit_code() == 1
    assert state(app.state.store) == before
