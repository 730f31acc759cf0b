"""The request limits counted on a raw body (scim/limits.py); end to end in
tests/e2e/test_request_limits.py."""

from __future__ import annotations

import pytest

from scim_proxy.scim.errors import ScimError
from scim_proxy.scim.limits import RequestLimits, check_patch, check_resource
from scim_proxy.scim.models import GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA, Group, User


@pytest.mark.parametrize("pad", ["u", "u" * 300], ids=["remembered", "longer than kept"])
def test_a_path_counts_the_same_however_long(pad: str) -> None:
    limits = RequestLimits(members=3)
    remove = {"op": "remove", "path": f'members[value eq "{pad}1" or value eq "{pad}2"]'}
    check_patch(Group, {"schemas": [PATCH_OP_SCHEMA], "Operations": [remove]}, limits)
    with pytest.raises(ScimError, match="4 group members"):
        check_patch(Group, {"schemas": [PATCH_OP_SCHEMA], "Operations": [remove] * 2}, limits)


@pytest.mark.parametrize(
    "key", ["emails", "EMAILS", f"{USER_SCHEMA}:emails", f"{USER_SCHEMA.upper()}:Emails"]
)
def test_a_body_key_is_counted_under_its_attribute_in_any_spelling(key: str) -> None:
    limits = RequestLimits(attribute_values=2)
    two = [{"value": "a@example.com"}, {"value": "b@example.com"}]
    check_resource(User, {"schemas": [USER_SCHEMA], key: two}, limits)
    with pytest.raises(ScimError, match="3 values to 'emails'"):
        check_resource(User, {"schemas": [USER_SCHEMA], key: two, "emails.value": "c"}, limits)


def test_a_group_body_counts_its_members_against_their_own_limit() -> None:
    members = [{"value": str(n)} for n in range(5)]
    check_resource(Group, {"schemas": [GROUP_SCHEMA], "members": members}, RequestLimits())
    with pytest.raises(ScimError, match="5 group members"):
        check_resource(
            Group, {"schemas": [GROUP_SCHEMA], "members": members}, RequestLimits(members=4)
        )
