"""The TelemetryTV adapter: every upstream call goes through here.

One :class:`TelemetryTV` lives per process and owns the pooled HTTP transport. Each inbound
request opens a :class:`TelemetryTVSession` bound to the token that request carried; the
token lives in that session's headers only, for the length of the request.

Each upstream exchange is one *attempt*; an :class:`AttemptPolicy` decides whether and
when a failed attempt is tried again. The default makes one attempt; a retrying policy
replaces it without touching any caller.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import httpx
import structlog

from .. import __version__
from ..directory import DirectoryGroup, DirectoryUser, NewUser, Page, UserChanges
from .auth import AuthScheme, authorization_header
from .breaker import CircuitBreaker
from .calls import CallOutcome, SessionCalls
from .errors import (
    Conflict,
    NotFound,
    UpstreamError,
)
from .wire import (
    decode_json,
    group_from_json,
    new_user_json,
    parse_total,
    user_changes_json,
    user_from_body,
    users_from_body,
)

T = TypeVar("T")
log = structlog.get_logger("scim_proxy.upstream")

# Ids are opaque upstream, but only ever made of these characters. Anything else cannot
# name an upstream object, and refusing it here means no id can reshape the URL path.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class AttemptPolicy(Protocol):
    """Runs the attempts of one upstream call and decides on retries."""

    async def run(self, attempt: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``attempt`` until it succeeds or the policy gives up, re-raising the last error."""
        ...


class SingleAttempt:
    """Make each call once: no retries."""

    async def run(self, attempt: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``attempt`` once."""
        return await attempt()


def _segment(object_id: str, kind: str) -> str:
    if not _SAFE_ID.fullmatch(object_id):
        raise NotFound(f"{kind} not found", status=404)
    return object_id


class TooLarge(Exception):
    """A walked listing holds more than the caller's limit; ``total`` when known."""

    def __init__(self, total: int | None) -> None:
        super().__init__("listing larger than the limit")
        self.total = total


class TelemetryTV:
    """The process-wide adapter: configuration, the pooled transport, the breaker.

    ``transport`` carries every upstream call (``build_transport()`` in production; tests
    hand in a ``MockTransport`` or an ``ASGITransport``); the adapter closes it in
    :meth:`aclose`. ``max_concurrent_calls`` caps the upstream calls in flight across all
    requests of the process, protecting TelemetryTV's rate limit from a burst of
    assignments.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        base_url: str,
        auth_scheme: AuthScheme = AuthScheme.token,
        attempts: AttemptPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_concurrent_calls: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.auth_scheme = auth_scheme
        self.attempts: AttemptPolicy = attempts or SingleAttempt()
        self.breaker = breaker or CircuitBreaker()
        self.gate = asyncio.Semaphore(max_concurrent_calls)
        self.read_timeout = read_timeout
        self.base_headers = httpx.Headers(
            {
                "User-Agent": f"scim-proxy/{__version__}",
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
                "Content-Type": "application/json",
                "Host": httpx.URL(self.base_url).netloc.decode("ascii"),
            }
        )
        """The headers every upstream request carries besides its ``Authorization`` (and a
        body's ``Content-Length``)."""
        self.default_timeout: dict[str, float | None] = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        ).as_dict()
        """Each phase's timeout, as a request's ``timeout`` extension."""
        url = httpx.URL(self.base_url)
        self.server_address = url.host
        self.server_port = url.port or (443 if url.scheme == "https" else 80)
        """TelemetryTV's host and port, for the upstream attempts' spans."""

    def session(self, token: str) -> TelemetryTVSession:
        """A session acting with ``token`` for the length of one inbound request."""
        return TelemetryTVSession(self, token, authorization_header(self.auth_scheme, token))

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.transport.aclose()


class TelemetryTVSession(SessionCalls):
    """TelemetryTV's user and user-group operations, acting with one token."""

    # -- users -----------------------------------------------------------------------

    async def get_user(self, user_id: str) -> DirectoryUser:
        """The user with this id; :class:`NotFound` when there is none."""
        path = f"/users/{_segment(user_id, 'User')}"
        answer = await self._call("GET", "/users/{id}", path)
        return user_from_body(answer.body)

    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        """The user holding this email address (case-insensitive), if any."""
        answer = await self._call("GET", "/users", "/users", params={"email": email})
        found = users_from_body(answer.body)
        wanted = email.casefold()
        return next((u for u in found if u.email.casefold() == wanted), None)

    async def list_users(
        self, page: int, per_page: int, *, group_id: str | None = None
    ) -> Page[DirectoryUser]:
        """One page of users, in TelemetryTV's stable order (optionally of one group)."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if group_id is not None:
            params["user_group_id"] = _segment(group_id, "User group")
        answer = await self._call("GET", "/users", "/users", params=params)
        items = users_from_body(answer.body)
        return Page(items=items, total=parse_total(answer.headers))

    async def walk_users(
        self, per_page: int, *, group_id: str | None = None, limit: int | None = None
    ) -> list[DirectoryUser]:
        """Every user (of one group), page by page; :class:`TooLarge` past ``limit``.

        A short page, or reaching the listing's total, ends the walk. Members of a group
        are checked against their own group list, in case the filter was not applied.
        """
        users: list[DirectoryUser] = []
        page_number = 1
        while True:
            page = await self.list_users(page_number, per_page, group_id=group_id)
            if limit is not None and (page.total or 0) > limit:
                raise TooLarge(page.total)
            users += [u for u in page.items if group_id is None or group_id in u.group_ids]
            if limit is not None and len(users) > limit:
                raise TooLarge(None)
            seen = (page_number - 1) * per_page + len(page.items)
            if len(page.items) < per_page or (page.total is not None and seen >= page.total):
                return users
            page_number += 1

    async def walk_groups(self, per_page: int, *, limit: int | None = None) -> list[DirectoryGroup]:
        """Every group, page by page; :class:`TooLarge` past ``limit``."""
        groups: list[DirectoryGroup] = []
        page_number = 1
        while True:
            page = await self.list_groups(page_number, per_page)
            if limit is not None and (page.total or 0) > limit:
                raise TooLarge(page.total)
            groups += page.items
            if limit is not None and len(groups) > limit:
                raise TooLarge(None)
            seen = (page_number - 1) * per_page + len(page.items)
            if len(page.items) < per_page or (page.total is not None and seen >= page.total):
                return groups
            page_number += 1

    async def create_user(self, user: NewUser) -> DirectoryUser:
        """Create a user and return it as stored.

        Retried like an idempotent call: if an earlier attempt's reply was lost and a
        retry meets "email taken", the user is looked up, and if it is the one this call
        meant to create (same email and names) it is returned instead of a conflict.
        """
        outcome = CallOutcome()
        try:
            answer = await self._call(
                "POST", "/users", "/users", body=new_user_json(user), outcome=outcome
            )
        except Conflict:
            if not outcome.maybe_applied:
                raise
            found = await self.find_user_by_email(user.email)
            if (
                found is None
                or (found.given_name, found.family_name) != (user.given_name, user.family_name)
                or not outcome.created_since_start(found.created)
            ):
                raise
            log.info("duplicate_create_recovered", resource="User")
            return found
        return user_from_body(answer.body)

    async def update_user(
        self, user_id: str, changes: UserChanges, *, retry_after_send: bool = True
    ) -> DirectoryUser:
        """Apply a partial update and return the user as stored.

        Setting fields to given values is idempotent, so a retry writes the same thing.
        A membership write passes ``retry_after_send=False`` and is never retried here:
        its list was computed from a read, and any wait (a backoff, a ``Retry-After``)
        would let that read go stale; the membership writer re-reads and re-applies.
        """
        path = f"/users/{_segment(user_id, 'User')}"
        body = user_changes_json(changes)
        answer = await self._call("PATCH", "/users/{id}", path, body=body, retry=retry_after_send)
        return user_from_body(answer.body)

    async def delete_user(self, user_id: str) -> None:
        """Delete a user (a retry meeting 404 after a lost reply counts as done)."""
        path = f"/users/{_segment(user_id, 'User')}"
        await self._delete("/users/{id}", path)

    # -- user groups -----------------------------------------------------------------

    async def get_group(self, group_id: str) -> DirectoryGroup:
        """The group with this id; :class:`NotFound` when there is none."""
        path = f"/user-groups/{_segment(group_id, 'User group')}"
        answer = await self._call("GET", "/user-groups/{id}", path)
        return group_from_json(decode_json(answer.body))

    async def find_group_by_name(self, name: str) -> DirectoryGroup | None:
        """The group with exactly this name, if any."""
        answer = await self._call("GET", "/user-groups", "/user-groups", params={"name": name})
        found = [group_from_json(g) for g in self._array(answer)]
        return next((g for g in found if g.name == name), None)

    async def list_groups(self, page: int, per_page: int) -> Page[DirectoryGroup]:
        """One page of groups, in TelemetryTV's stable order."""
        params = {"page": page, "per_page": per_page}
        answer = await self._call("GET", "/user-groups", "/user-groups", params=params)
        items = [group_from_json(g) for g in self._array(answer)]
        return Page(items=items, total=parse_total(answer.headers))

    async def create_group(self, name: str) -> DirectoryGroup:
        """Create a group and return it as stored; duplicate-safe like :meth:`create_user`."""
        outcome = CallOutcome()
        try:
            answer = await self._call(
                "POST", "/user-groups", "/user-groups", body={"name": name}, outcome=outcome
            )
        except Conflict:
            if not outcome.maybe_applied:
                raise
            found = await self.find_group_by_name(name)
            if found is None or found.built_in or not outcome.created_since_start(found.created):
                raise
            log.info("duplicate_create_recovered", resource="Group")
            return found
        return group_from_json(decode_json(answer.body))

    async def rename_group(self, group_id: str, name: str) -> DirectoryGroup:
        """Rename a group and return it as stored."""
        path = f"/user-groups/{_segment(group_id, 'User group')}"
        answer = await self._call("PATCH", "/user-groups/{id}", path, body={"name": name})
        return group_from_json(decode_json(answer.body))

    async def delete_group(self, group_id: str) -> None:
        """Delete a group; TelemetryTV drops it from its members."""
        path = f"/user-groups/{_segment(group_id, 'User group')}"
        await self._delete("/user-groups/{id}", path)


__all__ = [
    "AttemptPolicy",
    "SingleAttempt",
    "TelemetryTV",
    "TelemetryTVSession",
    "TooLarge",
    "UpstreamError",
]
