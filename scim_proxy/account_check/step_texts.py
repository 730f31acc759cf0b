"""The write check's items: their names, what each needs, and what a failure means.

Kept apart from the steps so that docs/operations.md can be held to the same words.
"""

from __future__ import annotations

CREATE_USER = "create user"
UPDATE_NAMES = "update names"
CHANGE_EMAIL = "change email"
CHANGE_PASSWORD = "change password"  # noqa: S105 - an item's name
DISABLE = "disable user"
ENABLE = "re-enable user"
CREATE_GROUP = "create group"
RENAME_GROUP = "rename group"
ADD_MEMBER = "add user to group"
REMOVE_MEMBER = "remove user from group"
DELETE_GROUP = "delete group"
DELETE_USER = "delete user"

ITEMS = (
    CREATE_USER,
    UPDATE_NAMES,
    CHANGE_EMAIL,
    CHANGE_PASSWORD,
    DISABLE,
    ENABLE,
    CREATE_GROUP,
    RENAME_GROUP,
    ADD_MEMBER,
    REMOVE_MEMBER,
    DELETE_GROUP,
    DELETE_USER,
)
"""Every write item, in the order the check runs them."""

NEEDS: dict[str, tuple[str, ...]] = {
    UPDATE_NAMES: (CREATE_USER,),
    CHANGE_EMAIL: (CREATE_USER,),
    CHANGE_PASSWORD: (CREATE_USER,),
    DISABLE: (CREATE_USER,),
    ENABLE: (DISABLE,),
    RENAME_GROUP: (CREATE_GROUP,),
    ADD_MEMBER: (CREATE_USER, CREATE_GROUP),
    REMOVE_MEMBER: (ADD_MEMBER,),
    DELETE_GROUP: (CREATE_GROUP,),
    DELETE_USER: (CREATE_USER,),
}
"""The items each item needs to have passed (else it is SKIPPED)."""

ADAPTER_FIX = (
    "the account answers unlike the contract the proxy is built on: attach the --json report "
    "to a ticket with TelemetryTV (the adapter, scim_proxy/telemetrytv/, must follow it)"
)
DEACTIVATION_FIX = (
    'set users.deactivation = "delete": deactivating a user in the IdP then deletes it in '
    "TelemetryTV (a later reactivation cannot bring it back)"
)
DEACTIVATION_DELETES = (
    'users.deactivation = "delete" is set, so deactivating deletes the user instead; only a '
    "user created inactive (or reactivated) is affected: it stays as TelemetryTV has it"
)
MEMBERSHIP_FIX = (
    "memberships cannot be written on this account: group push and roles will not work "
    "(turn them off in the IdP); no setting changes this"
)
DOMAIN_FIX = (
    "TelemetryTV refused the throwaway address: run the check again with --domain set to a "
    "domain it accepts (one you own; nothing is sent to it)"
)

ITEM_FIX: dict[str, str] = {
    CREATE_USER: ADAPTER_FIX,
    UPDATE_NAMES: (
        "name changes pushed from the IdP will not reach TelemetryTV; no setting changes this"
    ),
    CHANGE_EMAIL: (
        "email (userName) changes pushed from the IdP will not reach TelemetryTV: change them "
        "there by hand; no setting changes this"
    ),
    CHANGE_PASSWORD: (
        "password sync will fail: turn off Sync Password in the IdP; no setting changes this"
    ),
    DISABLE: DEACTIVATION_FIX,
    ENABLE: DEACTIVATION_FIX,
    CREATE_GROUP: (
        "group push cannot create groups: create them in TelemetryTV and link them in the IdP"
    ),
    RENAME_GROUP: (
        "group renames pushed from the IdP will not reach TelemetryTV: rename there by hand, "
        "or push groups under their final names; no setting changes this"
    ),
    ADD_MEMBER: MEMBERSHIP_FIX,
    REMOVE_MEMBER: MEMBERSHIP_FIX,
    DELETE_GROUP: "groups deleted through the IdP will stay in TelemetryTV: delete them there",
    DELETE_USER: (
        "users deleted through the IdP (Entra's hard delete) will stay in TelemetryTV, and "
        'users.deactivation = "delete" cannot work: keep users.deactivation = "disable"'
    ),
}
"""What a failure of each item means, and the setting that fixes it where one does."""

EMAIL_LOOKUP_MISSES = (
    "a lookup by its email does not find it (the IdP looks users up by userName, the email)"
)
NAME_LOOKUP_MISSES = (
    "a lookup by its name does not find it (group push looks groups up by displayName)"
)
PASSWORD_ACCEPTED = "accepted (a password is never shown, so it cannot be read back)"  # noqa: S105
FOUND_AFTER_DELETE = "the user reads by id as gone, but a lookup by its email still finds one"


BUG_FIX = "a bug in scim-proxy: report it with the --json report attached"


def unexpected(exc: Exception) -> str:
    """An error no upstream answer explains."""
    return f"the check itself failed: {type(exc).__name__}: {exc}"


def accepted_but(what: str) -> str:
    """A write TelemetryTV accepted and did not keep."""
    return f"TelemetryTV accepted the write, but {what}"


def not_ours(kind: str, object_id: str) -> str:
    """A create answered with an object other than the one asked for."""
    return (
        f"the create answered with another {kind} (id {object_id}); the check leaves that one "
        "alone and looks its own up by name to remove it"
    )


def group_list_reads(added: bool) -> str:
    """A membership write whose user's group list reads back wrong."""
    if added:
        return "the user's group list reads back without the group"
    return "the user's group list still holds the group"


def member_listing_reads(added: bool) -> str:
    """A membership write whose group member listing reads back wrong."""
    if added:
        return "listing the group's members does not return the user"
    return "listing the group's members still returns the user"
