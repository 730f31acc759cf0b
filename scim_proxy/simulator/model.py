"""Settings, error types, wire shapes and field rules of the TelemetryTV simulator.

Split from `store` so the store module holds only state and its invariants; everything here
is stateless. Validation messages follow Rails' wording ("can't be blank", "is too long
(maximum is 255 characters)"), as TelemetryTV is assumed to be a Rails-style API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, fields
from typing import TypedDict, cast

from scim_proxy.simulator.deviations import check_deviations

AUTH_SCHEMES = frozenset({"token", "basic", "bearer"})
SEED_PASSWORD = "Passw0rd!seed"  # noqa: S105 - documented fixture password of seeded users
OWNER_PASSWORD = "Owner-Passw0rd!"  # noqa: S105 - documented fixture password of the owner
ADMIN_GROUP_NAME = "Admin"
MAX_NAME_LENGTH = 255
MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """Knobs of one simulated TelemetryTV account.

    `auth_schemes` lists the accepted `Authorization` schemes (`token`, `basic`, `bearer`);
    `users` extra users are seeded next to the account owner; `user_limit` caps the account's
    user count (owner included) for creates; `seed` floors the id counter and varies the
    seeded names.
    """

    token: str = "sim-token"  # noqa: S105 - the simulator's well-known demo token
    users: int = 0
    auth_schemes: tuple[str, ...] = ("token", "basic")
    paging_header: bool = True
    max_per_page: int = 1000
    default_per_page: int = 50
    user_limit: int | None = None
    owner_email: str = "owner@example.com"
    seed: int = 0
    latency_ms: float = 0.0
    """Delay before each request is handled, as a slow network or server would add."""
    fail_rate: float = 0.0
    """Share of requests (0 to 1) that meet a fault (see ``faults.py``)."""
    fault_kinds: tuple[str, ...] = (
        "500",
        "502",
        "503",
        "429",
        "429-bare",
        "drop",
        "slow",
        "commit-timeout",
    )
    fault_seed: int | None = None
    slow_ms: float = 1500.0
    """How late a ``slow`` reply comes."""
    commit_delay_ms: float = 1500.0
    """How late a ``commit-timeout`` reply comes, after its write was applied."""
    deviations: tuple[str, ...] = ()
    """Wrong guesses about the contract to play (see ``deviations.py``); none by default."""
    log_requests: bool = False
    """Print each request's method, path and query on stdout as it arrives."""

    def __post_init__(self) -> None:
        """Reject settings that would make the simulator misbehave later, not at startup."""
        if not self.token:
            raise ValueError("token must not be empty")
        if not self.auth_schemes or not set(self.auth_schemes) <= AUTH_SCHEMES:
            raise ValueError(f"auth_schemes must be a non-empty subset of {sorted(AUTH_SCHEMES)}")
        if self.users < 0:
            raise ValueError("users must be >= 0")
        if self.max_per_page < 1 or not 1 <= self.default_per_page <= self.max_per_page:
            raise ValueError("need 1 <= default_per_page <= max_per_page")
        if self.user_limit is not None and self.user_limit < 0:
            raise ValueError("user_limit must be >= 0 or None")
        if not 0 <= self.fail_rate <= 1:
            raise ValueError("fail_rate must be in [0, 1]")
        known_faults = {"500", "502", "503", "429", "429-bare", "drop", "slow", "commit-timeout"}
        if not self.fault_kinds or not set(self.fault_kinds) <= known_faults:
            raise ValueError(f"fault_kinds must be a non-empty subset of {sorted(known_faults)}")
        if not (0 <= self.slow_ms <= 600_000 and 0 <= self.commit_delay_ms <= 600_000):
            raise ValueError("slow_ms and commit_delay_ms must be in [0, 600000]")
        if not 0 <= self.latency_ms <= 60_000:
            raise ValueError("latency_ms must be in [0, 60000]")
        if not 0 <= self.seed < 2**63:
            raise ValueError("seed must be in [0, 2**63)")
        check_deviations(self.deviations)
        if not is_plausible_email(self.owner_email):
            raise ValueError("owner_email is not a plausible email address")


class StoreError(Exception):
    """Base of the business-rule failures; `message` is the client-facing text."""

    def __init__(self, message: str) -> None:
        """Keep the client-facing message next to the exception."""
        super().__init__(message)
        self.message = message


class NotFoundError(StoreError):
    """The addressed user or group does not exist."""


class ConflictError(StoreError):
    """A uniqueness rule (email, group name) would be broken."""


class ForbiddenError(StoreError):
    """The account forbids the write (owner, built-in group, plan limit)."""


class FieldValidationError(StoreError):
    """One or more fields (or query parameters) are invalid; `fields` has one dict each."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        """Keep the per-field messages, in the order the fields were checked."""
        super().__init__("Validation error")
        self.fields = fields


class UserView(TypedDict):
    """A user as TelemetryTV returns it (the password is write-only)."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_group_ids: list[str]
    disabled: bool
    created_at: str
    updated_at: str


class GroupView(TypedDict):
    """A user group as TelemetryTV returns it."""

    id: str
    name: str
    built_in: bool
    created_at: str
    updated_at: str


def is_plausible_email(value: str) -> bool:
    """One `@`, a non-empty local part, a dotted domain, no whitespace, <= 254 chars."""
    if len(value) > MAX_EMAIL_LENGTH or value.count("@") != 1:
        return False
    local, _, domain = value.partition("@")
    # Reject a dot only at the domain's edge ("a@b." / "a@.b"): not a usable domain.
    if not local or "." not in domain.strip("."):
        return False
    return not any(ch.isspace() for ch in value)


def format_millis(millis: int) -> str:
    """Epoch milliseconds -> `2026-11-28T14:45:29.123Z`."""
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


@dataclass(slots=True)
class UserInput:
    """Validated user fields; None means "not sent" (null is rejected as a wrong type)."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    password: str | None = None
    user_group_ids: list[str] | None = None
    disabled: bool | None = None

    def is_empty(self) -> bool:
        """True when the body named no writable field: such a PATCH writes nothing."""
        return all(getattr(self, field.name) is None for field in fields(self))


def parse_user_fields(
    data: Mapping[str, object], *, creating: bool, known_group_ids: Container[str]
) -> UserInput:
    """Validate a create/update body; unknown keys are ignored, group ids deduplicated.

    Raises FieldValidationError listing every failing field, in a stable order.
    """
    out = UserInput()
    errors: list[dict[str, str]] = []
    for field, problem_of in _USER_FIELD_CHECKS:
        if field not in data:
            if creating and field in ("email", "password"):
                errors.append({field: "is required"})
            continue
        problem = problem_of(data[field])
        if problem is not None:
            errors.append({field: problem})
        elif field == "user_group_ids":
            group_ids = list(dict.fromkeys(cast("list[str]", data[field])))
            unknown = [gid for gid in group_ids if gid not in known_group_ids]
            if unknown:
                errors.append({field: "contains unknown user group ids: " + ", ".join(unknown)})
            out.user_group_ids = group_ids
        else:
            # Safe: the checker above proved the value has the attribute's type.
            setattr(out, field, data[field])
    if errors:
        raise FieldValidationError(errors)
    return out


def parse_group_name(data: Mapping[str, object], *, required: bool) -> str | None:
    """The validated `name` of a group body, or None when absent and not required."""
    if "name" not in data:
        if required:
            raise FieldValidationError([{"name": "is required"}])
        return None
    name = data["name"]
    problem = _name_problem(name)
    if problem is None and not cast("str", name).strip():
        problem = "can't be blank"
    if problem is not None:
        raise FieldValidationError([{"name": problem}])
    return cast("str", name)


def _email_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "can't be blank"
    if len(value) > MAX_EMAIL_LENGTH:
        return f"is too long (maximum is {MAX_EMAIL_LENGTH} characters)"
    return None if is_plausible_email(value) else "is not a valid email address"


def _password_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) < MIN_PASSWORD_LENGTH:
        return f"is too short (minimum is {MIN_PASSWORD_LENGTH} characters)"
    return None


def _name_problem(value: object) -> str | None:
    # Blankness is a group-name rule only: first/last names may be empty.
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_NAME_LENGTH:
        return f"is too long (maximum is {MAX_NAME_LENGTH} characters)"
    return None


def _group_ids_problem(value: object) -> str | None:
    if isinstance(value, list) and all(isinstance(gid, str) for gid in value):
        return None
    return "must be an array of strings"


def _disabled_problem(value: object) -> str | None:
    return None if isinstance(value, bool) else "must be a boolean"


# Checked in this order, so validation errors list fields in a stable order.
_USER_FIELD_CHECKS: tuple[tuple[str, Callable[[object], str | None]], ...] = (
    ("email", _email_problem),
    ("password", _password_problem),
    ("first_name", _name_problem),
    ("last_name", _name_problem),
    ("user_group_ids", _group_ids_problem),
    ("disabled", _disabled_problem),
)
