"""``scim-proxy check``: a read-only probe of a TelemetryTV account against the contract.

TelemetryTV's user API is not public (docs/telemetrytv-api.md). Before pointing an IdP at
the proxy, an operator runs this with the account's token: each contract item the
proxy relies on is tried with reads only, and reported as pass or fail with the setting
to change or the limitation a failure implies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from .auth import AuthScheme, authorization_header
from .client import _SAFE_ID
from .failures import describe_failure
from .wire import TOTAL_HEADER


@dataclass(frozen=True)
class Finding:
    """One contract item: passed or not, what was seen, and what a failure means."""

    item: str
    passed: bool
    detail: str
    fix: str = ""
    critical: bool = False
    """The proxy cannot work with the account while this fails."""


class _Probe:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str, scheme: AuthScheme):
        self.http = http
        self.base = base_url.rstrip("/")
        self.token = token
        self.scheme = scheme
        self.findings: list[Finding] = []

    def note(
        self, item: str, passed: bool, detail: str, fix: str = "", critical: bool = False
    ) -> None:
        self.findings.append(Finding(item, passed, detail, "" if passed else fix, critical))

    async def get(self, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": authorization_header(self.scheme, self.token)}
        return await self.http.get(self.base + path, params=params or None, headers=headers)


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


async def _auth(probe: _Probe) -> bool:
    statuses: dict[AuthScheme, int] = {}
    for scheme in AuthScheme:
        header = authorization_header(scheme, probe.token)
        try:
            response = await probe.http.get(
                f"{probe.base}/users",
                params={"page": 1, "per_page": 1},
                headers={"Authorization": header},
            )
        except httpx.HTTPError as exc:
            failure = describe_failure(exc, probe.base)
            probe.note("TelemetryTV reachable", False, failure.detail, failure.fix, critical=True)
            return False
        statuses[scheme] = response.status_code
    accepted = [s for s, status in statuses.items() if status == 200]
    seen = ", ".join(f"{s.value} {status}" for s, status in statuses.items())
    if not accepted:
        probe.note(
            f"auth scheme {probe.scheme.value} accepted",
            False,
            seen,
            "no scheme was accepted: the token is invalid, or not from an Admin-group user",
            critical=True,
        )
        return False
    probe.note(
        f"auth scheme {probe.scheme.value} accepted",
        probe.scheme in accepted,
        seen,
        f"set upstream.auth_scheme = {accepted[0].value!r} (accepted: "
        + ", ".join(s.value for s in accepted)
        + ")",
        critical=True,
    )
    probe.scheme = probe.scheme if probe.scheme in accepted else accepted[0]
    return True


async def _users(probe: _Probe) -> dict[str, Any] | None:
    response = await probe.get("/users", page=1, per_page=2)
    body = _json(response)
    is_array = response.status_code == 200 and isinstance(body, list)
    probe.note(
        "user listing is a JSON array",
        is_array,
        f"HTTP {response.status_code}",
        "the adapter (telemetrytv/wire.py) must be changed for this account",
        critical=True,
    )
    total = response.headers.get(TOTAL_HEADER)
    probe.note(
        f"paging header {TOTAL_HEADER}",
        total is not None and total.strip().isdigit(),
        f"{TOTAL_HEADER}: {total}",
        "totalResults will be estimated page by page; Okta still imports every user",
    )
    if not is_array or not body:
        probe.note(
            "account has users to check fields on",
            False,
            "no users listed",
            "add a user in TelemetryTV and run the check again",
        )
        return None
    if len(body) > 2:
        probe.note(
            "per_page honoured",
            False,
            f"asked 2, got {len(body)}",
            "paging is ignored: SCIM pages would be wrong",
            critical=True,
        )
    user: dict[str, Any] = body[0]
    fields = {
        "id": (str, True, "the adapter cannot address users"),
        "email": (str, True, "users cannot be matched by userName"),
        "first_name": (str, False, "name.givenName will read as empty"),
        "last_name": (str, False, "name.familyName will read as empty"),
        "disabled": (
            bool,
            False,
            'deactivation cannot be stored: set users.deactivation = "delete"',
        ),
        "user_group_ids": (list, False, "group memberships cannot be read or pushed"),
    }
    for name, (kind, critical, meaning) in fields.items():
        present = isinstance(user.get(name), kind)
        probe.note(
            f"user field {name}",
            present,
            f"{type(user.get(name)).__name__}",
            meaning,
            critical=critical,
        )
    return user


async def _lookups(probe: _Probe, user: dict[str, Any]) -> None:
    if not _SAFE_ID.fullmatch(str(user["id"])):
        probe.note(
            "user ids are plain",
            False,
            "an id holds characters outside A-Z a-z 0-9 _ -",
            "the adapter refuses such ids in paths",
            critical=True,
        )
        return
    one = await probe.get(f"/users/{user['id']}")
    probe.note(
        "user by id",
        one.status_code == 200 and (_json(one) or {}).get("id") == user["id"],
        f"HTTP {one.status_code}",
        "GET /Users/{id} will fail",
        critical=True,
    )
    email = str(user.get("email", ""))
    found = await probe.get("/users", email=email.upper())
    hits = _json(found)
    matches = isinstance(hits, list) and [u.get("id") for u in hits] == [user["id"]]
    probe.note(
        "email lookup (case-insensitive)",
        matches,
        f"HTTP {found.status_code}, {len(hits) if isinstance(hits, list) else '?'} result(s)",
        "userName eq filters (Okta's lookup before create) will not find users",
        critical=True,
    )
    missing = await probe.get("/users/000000000000000000000000")
    probe.note(
        "unknown user id is 404",
        missing.status_code == 404,
        f"HTTP {missing.status_code}",
        "unknown ids may not answer 404 as Okta expects",
    )


async def _groups(probe: _Probe, user: dict[str, Any] | None) -> None:
    response = await probe.get("/user-groups", page=1, per_page=5)
    groups = _json(response)
    ok = response.status_code == 200 and isinstance(groups, list)
    probe.note(
        "user group listing is a JSON array",
        ok,
        f"HTTP {response.status_code}",
        "groups cannot be imported or pushed",
    )
    if not ok or not groups:
        return
    group = groups[0]
    probe.note(
        "group fields id, name, built_in",
        isinstance(group.get("id"), str) and isinstance(group.get("name"), str),
        f"keys {sorted(group)[:8]}",
        "groups cannot be mapped",
    )
    named = await probe.get("/user-groups", name=group.get("name", ""))
    hits = _json(named)
    probe.note(
        "group name lookup",
        isinstance(hits, list) and [g.get("id") for g in hits] == [group.get("id")],
        f"HTTP {named.status_code}",
        "displayName eq (Okta's group push lookup) will not find groups",
    )
    members = await probe.get("/users", user_group_id=group.get("id", ""), page=1, per_page=5)
    listed = _json(members)
    filtered = isinstance(listed, list) and all(
        group.get("id") in (u.get("user_group_ids") or []) for u in listed
    )
    probe.note(
        "members filter user_group_id",
        filtered,
        f"HTTP {members.status_code}",
        "group members are read by checking every user (slower)",
    )


async def run_probe(
    http: httpx.AsyncClient, base_url: str, token: str, scheme: AuthScheme
) -> list[Finding]:
    """Probe the account at ``base_url`` with ``token``; reads only."""
    probe = _Probe(http, base_url, token, scheme)
    try:
        if not await _auth(probe):
            return probe.findings
        user = await _users(probe)
        if user is not None and isinstance(user.get("id"), str):
            await _lookups(probe, user)
        await _groups(probe, user)
    except httpx.HTTPError as exc:
        failure = describe_failure(exc, probe.base)
        probe.note(
            "TelemetryTV kept answering",
            False,
            failure.detail,
            f"the account stopped answering during the check: {failure.fix}",
            critical=True,
        )
    return probe.findings
