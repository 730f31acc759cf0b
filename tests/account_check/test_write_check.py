"""``check --write`` against the simulator: every write passes, each wrong guess is a FAIL
naming what broke, and the account is left exactly as it was."""

from __future__ import annotations

import httpx
import orjson
import pytest

from scim_proxy.account_check.report import Status, closing_lines, report_json
from scim_proxy.account_check.step_texts import ITEMS
from tests.account_check.harness import (
    FULL_RUN_WRITES,
    WRITES,
    Upstream,
    run_check,
    settings_for,
    simulator,
    state,
    statuses,
)
from tests.conftest import TOKEN

pytestmark = pytest.mark.anyio


async def test_every_write_passes_and_the_account_is_left_as_it_was() -> None:
    app = simulator(users=3)
    before = state(app.state.store)
    report, _ = await run_check(app)
    assert statuses(report) == dict.fromkeys(ITEMS, "PASS")
    assert report.exit_code() == 0
    assert report.leftovers == []
    assert state(app.state.store) == before
    writes = [r for r in app.state.requests if r.method in WRITES]
    assert len(writes) == FULL_RUN_WRITES


async def test_writes_address_only_what_the_check_created() -> None:
    app = simulator(users=3)
    store = app.state.store
    untouchable = {store.owner_id, store.admin_group_id} | {u["id"] for u in state(store)[0]}
    report, _ = await run_check(app)
    created = {
        e.received["id"]
        for item in report.items
        for e in item.exchanges
        if e.method == "POST" and isinstance(e.received, dict)
    }
    assert len(created) == 2
    assert not created & untouchable
    for method, path, _ in app.state.requests:
        if method in ("PATCH", "DELETE"):
            assert path.rsplit("/", 1)[1] in created, (method, path)


async def test_without_write_nothing_is_written() -> None:
    app = simulator()
    report, _ = await run_check(app, write=False)
    assert {r.method for r in app.state.requests} == {"GET"}
    assert statuses(report) == {}
    assert report.exit_code() == 0


@pytest.mark.parametrize(
    ("deviation", "failed", "fix", "skipped"),
    [
        (
            "memberships-ignored",
            ["add user to group"],
            "memberships cannot be written",
            ["remove user from group"],
        ),
        ("disabled-ignored", ["disable user"], 'users.deactivation = "delete"', ["re-enable user"]),
        ("email-change-ignored", ["change email"], "email (userName) changes", []),
        ("group-rename-ignored", ["rename group"], "group renames pushed", []),
        (
            "user-update-refused",
            [
                "update names",
                "change email",
                "change password",
                "disable user",
                "add user to group",
            ],
            "refused the HTTP method",
            ["re-enable user", "remove user from group"],
        ),
    ],
)
async def test_a_wrong_guess_fails_naming_what_broke_and_leaves_nothing(
    deviation: str, failed: list[str], fix: str, skipped: list[str]
) -> None:
    app = simulator(deviation)
    before = state(app.state.store)
    report, _ = await run_check(app)
    found = statuses(report)
    assert [name for name, status in found.items() if status == "FAIL"] == failed
    assert [name for name, status in found.items() if status == "SKIPPED"] == skipped
    for item in report.items:
        if item.name in failed:
            assert fix in item.fix, item
    assert report.exit_code() == 1
    assert report.leftovers == []
    assert state(app.state.store) == before


async def test_memberships_ignored_says_the_group_list_read_back_without_the_group() -> None:
    report, _ = await run_check(simulator("memberships-ignored"))
    item = next(i for i in report.items if i.name == "add user to group")
    assert "accepted the write" in item.detail
    assert "group list reads back without the group" in item.detail
    assert any(e.method == "PATCH" and e.status == 200 for e in item.exchanges)


async def test_disabled_ignored_is_a_warning_when_deactivation_deletes() -> None:
    app = simulator("disabled-ignored")
    before = state(app.state.store)
    report, _ = await run_check(app, settings_for(deactivation="delete"))
    item = next(i for i in report.items if i.name == "disable user")
    assert item.status is Status.WARN
    assert 'users.deactivation = "delete" is set' in item.fix
    assert report.exit_code() == 0
    assert state(app.state.store) == before


async def test_a_user_the_account_will_not_delete_is_listed_last_with_id_and_emails() -> None:
    app = simulator("user-delete-refused")
    before_users, before_groups = state(app.state.store)
    report, log = await run_check(app)
    assert statuses(report)["delete user"] == "FAIL"
    assert report.exit_code() == 3
    users, groups = state(app.state.store)
    assert groups == before_groups
    extra = [u for u in users if u not in before_users]
    assert len(extra) == 1
    [leftover] = report.leftovers
    assert (leftover.kind, leftover.id) == ("user", extra[0]["id"])
    assert extra[0]["email"] in leftover.names
    last = closing_lines(report, log.redact)
    assert last[-2].startswith("LEFT BEHIND")
    assert extra[0]["id"] in last[-1]
    assert all(name in last[-1] for name in leftover.names)
    assert "403" in last[-1]


class AnswersWithForeignObjects(Upstream):
    """A broken account: creates answer with its Admin group and its owner, creating nothing."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        store = self.app.state.store
        if request.method == "POST" and request.url.path == "/user-groups":
            return httpx.Response(201, json=store.get_group(store.admin_group_id))
        if request.method == "POST" and request.url.path == "/users":
            return httpx.Response(201, json=store.get_user(store.owner_id))
        return await super().handle_async_request(request)


async def test_the_admin_group_and_users_it_did_not_create_are_never_touched() -> None:
    app = simulator()
    before = state(app.state.store)
    report, _ = await run_check(AnswersWithForeignObjects(app))
    found = statuses(report)
    assert (found["create user"], found["create group"]) == ("FAIL", "FAIL")
    assert "another user" in next(i.detail for i in report.items if i.name == "create user")
    assert {r.method for r in app.state.requests} == {"GET"}, "nothing but the lookups"
    assert state(app.state.store) == before
    assert report.leftovers == []


async def test_the_report_carries_what_was_sent_and_received_without_secrets() -> None:
    given: list[str] = []

    def passwords() -> str:
        given.append(f"Canary-Password-{len(given)}-x9!Q")
        return given[-1]

    report, log = await run_check(simulator(), passwords=passwords)
    document = report_json(report, log.redact)
    text = orjson.dumps(document).decode()
    assert len(given) == 2
    for secret in (*given, TOKEN):
        assert secret not in text
    assert document["upstream"]["base_url"] == "http://telemetrytv.test"
    assert document["scim_proxy_version"]
    assert document["exit_code"] == 0
    assert isinstance(document["ms"], float)
    create = next(i for i in document["items"] if i["name"] == "create user")
    [post] = [e for e in create["exchanges"] if e["sent"]["method"] == "POST"]
    assert post["sent"]["body"]["password"] == "[redacted]"
    assert post["received"]["status"] == 201
    assert isinstance(post["ms"], float)
    assert document["cleanup"] == {"exchanges": [], "left_behind": []}


class RefusesTheDomain(Upstream):
    """An account whose email validation refuses the throwaway domain."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/users":
            body = {"error": "Validation error", "fields": [{"email": "is not a valid email"}]}
            return httpx.Response(400, json=body)
        return await super().handle_async_request(request)


async def test_a_refused_throwaway_address_says_to_choose_the_domain() -> None:
    app = simulator()
    report, _ = await run_check(RefusesTheDomain(app))
    item = next(i for i in report.items if i.name == "create user")
    assert item.status is Status.FAIL
    assert "is not a valid email" in item.detail
    assert "--domain" in item.fix
    assert report.exit_code() == 1
