"""Role steps from PATCH shapes, role references resolved, and the kept group names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scim_proxy.directory import DirectoryGroup
from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.models import User
from scim_proxy.scim.payloads import read_patch
from scim_proxy.scim.roles_in_patch import split_role_operations
from scim_proxy.telemetrytv import TelemetryTV
from scim_proxy.translation.role_names import GroupNames
from scim_proxy.translation.role_steps import RoleChange, RoleStep, role_steps
from scim_proxy.translation.roles import _Resolver

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _steps(*operations: dict[str, Any]) -> list[RoleStep]:
    body, role_body = split_role_operations({"schemas": [PATCH_OP], "Operations": list(operations)})
    assert body["Operations"] == []
    assert role_body is not None
    return role_steps(read_patch(User, role_body))


def _group(group_id: str, name: str) -> DirectoryGroup:
    return DirectoryGroup(group_id, name, False, None, None)


def test_pathless_roles_are_split_from_the_other_keys() -> None:
    body, role_body = split_role_operations(
        {
            "Operations": [
                {"op": "replace", "value": {"active": False, "roles": [{"value": "g1"}]}},
                {"op": "replace", "path": "name.givenName", "value": "Ana"},
            ]
        }
    )
    assert body["Operations"] == [
        {"op": "replace", "value": {"active": False}},
        {"op": "replace", "path": "name.givenName", "value": "Ana"},
    ]
    assert role_body is not None
    assert role_body["Operations"] == [
        {"op": "replace", "path": "roles", "value": [{"value": "g1"}]}
    ]


def test_a_body_without_roles_is_left_as_it_is() -> None:
    body = {"Operations": [{"op": "replace", "value": {"active": False}}]}
    assert split_role_operations(body) == (body, None)


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            {"op": "Add", "path": "roles", "value": [{"value": "Sales", "primary": "True"}]},
            [RoleStep("add", ("Sales",))],
        ),
        (
            {"op": "replace", "path": "roles", "value": [{"value": "g1"}, {"value": "g2"}]},
            [RoleStep("replace", ("g1", "g2"))],
        ),
        (
            {"op": "Remove", "path": "roles", "value": [{"value": "Sales"}]},
            [RoleStep("remove", ("Sales",))],
        ),
        ({"op": "remove", "path": "roles"}, [RoleStep("replace", ())]),
        (
            {"op": "remove", "path": 'roles[value eq "g1" or display eq "Sales"]'},
            [RoleStep("remove", ("g1", "Sales"))],
        ),
        (
            {"op": "replace", "path": 'roles[value eq "g1"].value', "value": "g2"},
            [RoleStep("remove", ("g1",)), RoleStep("add", ("g2",))],
        ),
        (
            {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Sales"},
            [RoleStep("replace", ("Sales",))],
        ),
        ({"op": "Replace", "path": 'roles[primary eq "True"].display', "value": "Sales"}, []),
        (
            {
                "op": "Add",
                "path": "roles",
                "value": [{"value": '{"id":"a1","value":"Sales","displayName":"S"}'}],
            },
            [RoleStep("add", ("Sales",))],
        ),
        (
            {
                "op": "add",
                "path": "urn:ietf:params:scim:schemas:core:2.0:User:roles",
                "value": {"value": "g1"},
            },
            [RoleStep("add", ("g1",))],
        ),
    ],
)
def test_idp_shapes_become_role_steps(operation: dict[str, Any], expected: list[RoleStep]) -> None:
    assert _steps(operation) == expected


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "remove", "path": 'roles[type eq "x"]'}, "invalidFilter"),
        ({"op": "replace", "path": "roles.value", "value": "x"}, "invalidPath"),
        ({"op": "add", "path": "roles", "value": [{"type": "x"}]}, "invalidValue"),
        ({"op": "add", "path": "roles", "value": [{"value": ""}]}, "invalidValue"),
    ],
)
def test_shapes_that_cannot_name_a_role_are_refused(
    operation: dict[str, Any], scim_type: str
) -> None:
    with pytest.raises(ScimError) as caught:
        _steps(operation)
    assert caught.value.status == 400
    assert caught.value.scim_type == scim_type


def test_steps_fold_in_order() -> None:
    change = RoleChange()
    change.fold("add", ["g1", "g2"])
    change.fold("remove", ["g2", "g3"])
    assert change.final(["g3", "g4"]) == ["g4", "g1"]
    change.fold("replace", ["g5"])
    change.fold("add", ["g6"])
    change.fold("remove", ["g5"])
    assert change.final(["g3"]) == ["g6"]


def test_a_role_is_matched_by_id_then_by_exact_name() -> None:
    resolver = _Resolver([_group("g1", "Sales"), _group("g2", "g1"), _group("g3", "sales")])
    assert resolver.existing(["g1", "Sales", "sales"]) == ["g1", "g1", "g3"]
    with pytest.raises(ScimError) as caught:
        resolver.existing(["SALES", "Night Shift", "Night Shift"])
    assert caught.value.status == 400
    assert "'SALES', 'Night Shift'" in caught.value.detail
    assert resolver.known(["Night Shift", "Sales"]) == ["g1"]


def test_a_name_two_groups_share_is_refused_as_ambiguous() -> None:
    resolver = _Resolver([_group("g1", "Screens"), _group("g2", "Screens")])
    with pytest.raises(ScimError) as caught:
        resolver.existing(["Screens"])
    assert caught.value.status == 400
    assert "matches 2" in caught.value.detail
    assert resolver.existing(["g2"]) == ["g2"]


class _Groups:
    """A TelemetryTV answering group listings, counting them."""

    def __init__(self) -> None:
        self.names = {"g1": "Sales"}
        self.listings = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/user-groups"
        self.listings += 1
        body = [{"id": k, "name": v} for k, v in self.names.items()]
        return httpx.Response(200, json=body, headers={"Total-Records-Count": str(len(body))})


@pytest.mark.anyio
async def test_group_names_are_kept_for_their_lifetime_and_refreshed_on_a_miss() -> None:
    upstream = _Groups()
    adapter = TelemetryTV(
        httpx.MockTransport(upstream.handler),
        base_url="http://telemetrytv.test",
    )
    session = adapter.session("token")
    names = GroupNames(lifetime_seconds=60, page_size=100)
    assert await names.names(session, "fp", ["g1"]) == {"g1": "Sales"}
    assert await names.names(session, "fp", ["g1"]) == {"g1": "Sales"}
    assert upstream.listings == 1
    # A group created since the listing: listed again at once.
    upstream.names["g2"] = "Menu"
    assert (await names.names(session, "fp", ["g1", "g2"]))["g2"] == "Menu"
    assert upstream.listings == 2
    # Another token has a listing of its own; nothing wanted costs nothing.
    await names.names(session, "other", ["g1"])
    assert upstream.listings == 3
    assert await names.names(session, "fp", []) == {}
    names.forget("fp")
    await names.names(session, "fp", ["g1"])
    assert upstream.listings == 4
    # Lifetime 0: every read lists.
    uncached = GroupNames(lifetime_seconds=0, page_size=100)
    await uncached.names(session, "fp", ["g1"])
    await uncached.names(session, "fp", ["g1"])
    assert upstream.listings == 6
    await adapter.aclose()
