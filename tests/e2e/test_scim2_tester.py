"""scim2-tester's ``check_server`` against the proxy and the simulator, in-process.

Every check must pass, except those listed in :data:`IMPOSSIBLE` with the reason a
translation proxy in front of TelemetryTV cannot meet them. A check that newly fails,
and an entry of the list that no longer fails, both fail the test.

How it runs (see ``tests/scim2_bridge.py``): scim2-client's ASGI engine calls the proxy
app directly, on an event loop of its own in a background thread; ``check_server``,
which only takes a synchronous client, drives it from the test's thread. The proxy's
upstream calls reach the simulator through ``httpx.ASGITransport``. No socket is opened.

One adaptation, and only one: scim2-tester fills ``userName`` with a random UUID, and
TelemetryTV signs users in by email, so the proxy refuses a user whose ``userName``
is not an email address (and who has no email in ``emails``). With that, creation,
and with it every check that starts by creating a user, would fail for this one reason
and check nothing else. So the User model discovered from ``/Schemas`` is given email
``examples`` for ``userName``, the values scim2-tester uses when a field has any.
:func:`test_user_name_must_be_an_email` keeps the refusal itself under test.
"""

from __future__ import annotations

import re
import socket
import typing
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, overload

import pytest
from scim2_tester import CheckResult, Status, check_server
from starlette.types import ASGIApp

from scim_proxy.simulator import SimulatorStore
from tests.conftest import BASE, TOKEN
from tests.scim2_bridge import PortalSCIMClient, asgi_scim_client

RESOURCE_TYPES = ["User", "Group"]
"""The resource types checked; add ``"Group"`` once the proxy serves ``/Groups``."""

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
"""scim2-tester's statuses for a server that meets the RFCs (MUST, SHOULD, MAY)."""

Key = tuple[str | None, str | None, str | None]
"""(resource type, check, attribute): one result of ``check_server``."""

IMPOSSIBLE: dict[Key, str] = {
    # externalId: a common attribute (RFC 7643 §3.1) every resource model carries.
    ("User", "object_query_with_attributes", "externalId"): (
        "TelemetryTV users have no field to hold externalId and the proxy is stateless: "
        "it is accepted and dropped, so GET ?attributes=externalId has nothing to return"
    ),
    ("User", "object_list_with_attributes", "externalId"): (
        "as object_query_with_attributes: externalId cannot be stored"
    ),
    ("User", "check_add_attribute", "externalId"): (
        "PATCH add externalId: TelemetryTV has no field for it; it is dropped"
    ),
    ("User", "check_replace_attribute", "externalId"): (
        "PATCH replace externalId: TelemetryTV has no field for it; it is dropped"
    ),
    # emails: TelemetryTV holds exactly one address per user, which is its login.
    ("User", "check_add_attribute", "emails"): (
        "TelemetryTV holds one email per user, always present: adding an address to a "
        "user who has one cannot yield the list scim2-tester sent (it expects exactly the "
        "added value, with its random type and primary)"
    ),
    ("User", "check_replace_attribute", "emails"): (
        "the address is replaced, but TelemetryTV stores neither its type nor primary: "
        "the proxy always reports its one address as type 'work', primary true"
    ),
    ("User", "check_remove_attribute", "emails"): (
        "TelemetryTV cannot hold a user without an email (it is the login): removing "
        "emails leaves the user's one address in place"
    ),
    # active: TelemetryTV's disabled flag.
    ("User", "check_remove_attribute", "active"): (
        "TelemetryTV's disabled flag is always true or false, so active always has a "
        "value: removing it leaves the user as it was, never unassigned"
    ),
    # userName: the same TelemetryTV email as emails.
    ("User", "check_replace_attribute", "userName"): (
        "userName and emails both show TelemetryTV's one email; on update the proxy "
        "follows emails and ignores a userName change on its own (logged as the quirk "
        "username_change_ignored), so a PATCH of userName alone is not applied"
    ),
    # roles: TelemetryTV user groups, shown by id with the group's name.
    ("User", "check_add_attribute", "roles"): (
        "a role is a TelemetryTV user group: the proxy returns it as value = the group id "
        "(the role sent by name is resolved to it), display = the group's name; TelemetryTV "
        "stores only the membership, so the random display, type and primary sent cannot "
        "come back"
    ),
    ("User", "check_replace_attribute", "roles"): (
        "as check_add_attribute roles: value becomes the group id, display its name"
    ),
    # Groups: the same common attribute, and the same optional endpoint.
    ("Group", "object_query_with_attributes", "externalId"): (
        "TelemetryTV user groups have no field to hold externalId: it is accepted and dropped"
    ),
    ("Group", "object_list_with_attributes", "externalId"): (
        "as object_query_with_attributes: externalId cannot be stored"
    ),
    ("Group", "check_add_attribute", "externalId"): (
        "PATCH add externalId: TelemetryTV groups have no field for it; it is dropped"
    ),
    ("Group", "check_replace_attribute", "externalId"): (
        "PATCH replace externalId: TelemetryTV groups have no field for it; it is dropped"
    ),
    ("Group", "check_add_attribute", "members"): (
        "members' display and type are set by the proxy (the member's email, and 'User', "
        "as Okta reads them); scim2-tester sends random values for them and compares the "
        "whole entry. TelemetryTV stores only the membership itself, not a per-membership "
        "label, so a display sent cannot come back"
    ),
    ("Group", "check_replace_attribute", "members"): (
        "as check_add_attribute members: display and type are derived, not stored"
    ),
    ("Group", "search_with_attributes", None): (
        "not a failure: POST /.search is optional and answered 501; scim2-tester reports SKIPPED"
    ),
    # POST /.search: an optional endpoint (RFC 7644 §3.4.3 'MAY').
    ("User", "search_with_attributes", None): (
        "not a failure: the proxy answers POST /.search with 501 as RFC 7644 §3.12 "
        "prescribes for an unsupported operation, which scim2-tester reports as SKIPPED; "
        "GET with a filter is the supported way to search"
    ),
}
"""Results allowed not to pass, each with the reason; nothing else may fail."""


class FreshEmails(Sequence[str]):
    """``examples`` for scim2-tester: every value it picks is a new email address.

    scim2-tester draws a field's value with ``random.choice(field.examples)``; a fixed
    list would give two users the same address (a 409) or repeat the current one.
    """

    def __len__(self) -> int:
        return 1

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[0]]
        return f"scim2-tester-{uuid.uuid4().hex[:16]}@example.com"


ROLE_GROUP = "scim2-tester role"
"""The TelemetryTV user group scim2-tester's roles name (see describe_with_email_user_names)."""


def describe_with_email_user_names(scim: PortalSCIMClient) -> None:
    """Describe the server from its discovery endpoints, userName filled with emails.

    ``check_server`` keeps a description the client already has, so its checks run
    against the models the proxy publishes, with this change, and the same for roles: a
    role is a TelemetryTV user group, and a random role value names none (a 400, as it
    must be), so ``roles.value`` is given the name of a group that exists.
    """
    scim.discover()
    user = scim.provider.model_for("User")
    assert user is not None, "the proxy publishes no User resource type"
    user.model_fields["user_name"].examples = FreshEmails()  # type: ignore[assignment]
    role = typing.get_args(typing.get_args(user.model_fields["roles"].annotation)[0])[0]
    role.model_fields["value"].examples = [ROLE_GROUP]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any outbound connection or name lookup: the run is in-process."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access during an in-process test: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def scim(proxy: ASGIApp, no_network: None) -> Iterator[PortalSCIMClient]:
    """A synchronous SCIM client of the proxy, sending the simulator's token."""
    with asgi_scim_client(proxy, BASE, {"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def key(result: CheckResult) -> Key:
    """What the allow-list knows a result by: its resource type, check and attribute."""
    attribute = None
    if isinstance(result.data, dict) and isinstance(result.data.get("urn"), str):
        attribute = result.data["urn"]
    elif match := re.search(r"attribute '([^']+)'", result.reason or ""):
        attribute = match.group(1)
    return result.resource_type, result.title, attribute


def describe(result: CheckResult) -> str:
    resource_type, check, attribute = key(result)
    where = "/".join(part for part in (resource_type, check, attribute) if part)
    reason = " ".join((result.reason or "").split())
    data = " ".join(repr(result.data).split())
    return f"{where}: {result.status.name}: {reason[:400]}\n    data: {data[:600]}"


def test_check_server(scim: PortalSCIMClient, store: SimulatorStore) -> None:
    store.create_group({"name": ROLE_GROUP})
    describe_with_email_user_names(scim)
    results = check_server(scim, resource_types=RESOURCE_TYPES)

    checked = {r.resource_type for r in results if r.resource_type}
    assert checked == set(RESOURCE_TYPES), f"resource types checked: {checked}"

    failed = [r for r in results if r.status not in PASSED]
    unexpected = [describe(r) for r in failed if key(r) not in IMPOSSIBLE]
    stale = sorted(set(IMPOSSIBLE) - {key(r) for r in failed}, key=str)
    assert not unexpected, "scim2-tester checks failed:\n" + "\n".join(unexpected)
    assert not stale, f"allowed failures that now pass; remove them from IMPOSSIBLE: {stale}"


def test_user_name_must_be_an_email(scim: PortalSCIMClient) -> None:
    """scim2-tester's own userName (a UUID) is refused: TelemetryTV's login is an email.

    Were it ever accepted, the ``userName`` examples above would no longer be needed.
    """
    results = check_server(scim, include_tags={"crud:create"}, resource_types=["User"])

    [creation] = [r for r in results if r.title == "object_creation"]
    assert creation.status is Status.ERROR
    assert isinstance(creation.data, dict)
    assert creation.data["status"] == "400"
    assert creation.data["scimType"] == "invalidValue"
    assert "userName must be the user's email address" in creation.data["detail"]
