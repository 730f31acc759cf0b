"""The TelemetryTV adapter: every upstream call goes through here.

One :class:`TelemetryTV` lives per process and owns the pooled HTTP client. Each inbound
request opens a :class:`TelemetryTVSession` bound to the token that request carried; the
token lives in that session's headers only, for the length of the request.

Each upstream exchange is one *attempt*; an :class:`AttemptPolicy` decides whether and
when a failed attempt is tried again. The default makes one attempt; a retrying policy
replaces it without touching any caller.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import httpx
import orjson
import structlog

from ..directory import DirectoryGroup, DirectoryUser, NewUser, Page, UserChanges
from ..ops.context import request_stats, take_next_attempt_wait
from ..ops.metrics import UPSTREAM_CALLS, UPSTREAM_LATENCY
from .auth import AuthScheme, authorization_header
from .breaker import CircuitBreaker
from .errors import (
    BadResponse,
    Conflict,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .transport import provably_unsent
from .wire import (
    decode_json,
    error_from_response,
    group_from_json,
    new_user_json,
    parse_total,
    user_changes_json,
    user_from_json,
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


def _scrubbed(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


class TooLarge(Exception):
    """A walked listing holds more than the caller's limit; ``total`` when known."""

    def __init__(self, total: int | None) -> None:
        super().__init__("listing larger than the limit")
        self.total = total


class TelemetryTV:
    """The process-wide adapter: configuration, the pooled HTTP client, the breaker.

    ``max_concurrent_calls`` caps the upstream calls in flight across all requests of the
    process, protecting TelemetryTV's rate limit from a burst of assignments.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        auth_scheme: AuthScheme = AuthScheme.token,
        attempts: AttemptPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_concurrent_calls: int = 64,
        read_timeout: float = 20.0,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.auth_scheme = auth_scheme
        self.attempts: AttemptPolicy = attempts or SingleAttempt()
        self.breaker = breaker or CircuitBreaker()
        self.gate = asyncio.Semaphore(max_concurrent_calls)
        self.read_timeout = read_timeout

    def session(self, token: str) -> TelemetryTVSession:
        """A session acting with ``token`` for the length of one inbound request."""
        return TelemetryTVSession(self, token, authorization_header(self.auth_scheme, token))

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.http.aclose()


CLOCK_SKEW = timedelta(minutes=2)
"""How far TelemetryTV's clock may be from ours when judging when a resource was made."""


@dataclass
class _Outcome:
    """What the attempts of one call went through."""

    maybe_applied: bool = False
    """An earlier attempt failed after the request may have reached TelemetryTV."""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def created_since_start(self, created: datetime | None) -> bool:
        """Whether a resource was made by this call's attempts, as far as can be told.

        One made before the call started (allowing for clock skew) was someone else's.
        """
        return created is None or created >= self.started - CLOCK_SKEW


class TelemetryTVSession:
    """TelemetryTV's user and user-group operations, acting with one token."""

    def __init__(self, adapter: TelemetryTV, token: str, authorization: str) -> None:
        self._adapter = adapter
        self._token = token
        self._headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    # -- users -----------------------------------------------------------------------

    async def get_user(self, user_id: str) -> DirectoryUser:
        """The user with this id; :class:`NotFound` when there is none."""
        path = f"/users/{_segment(user_id, 'User')}"
        response = await self._call("GET", "/users/{id}", path)
        return user_from_json(decode_json(response.content))

    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        """The user holding this email address (case-insensitive), if any."""
        response = await self._call("GET", "/users", "/users", params={"email": email})
        found = [user_from_json(u) for u in self._array(response)]
        wanted = email.casefold()
        return next((u for u in found if u.email.casefold() == wanted), None)

    async def list_users(
        self, page: int, per_page: int, *, group_id: str | None = None
    ) -> Page[DirectoryUser]:
        """One page of users, in TelemetryTV's stable order (optionally of one group)."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if group_id is not None:
            params["user_group_id"] = _segment(group_id, "User group")
        response = await self._call("GET", "/users", "/users", params=params)
        items = [user_from_json(u) for u in self._array(response)]
        return Page(items=items, total=parse_total(response.headers))

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
        outcome = _Outcome()
        try:
            response = await self._call(
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
        return user_from_json(decode_json(response.content))

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
        response = await self._call("PATCH", "/users/{id}", path, body=body, retry=retry_after_send)
        return user_from_json(decode_json(response.content))

    async def delete_user(self, user_id: str) -> None:
        """Delete a user (a retry meeting 404 after a lost reply counts as done)."""
        path = f"/users/{_segment(user_id, 'User')}"
        await self._delete("/users/{id}", path)

    # -- user groups -----------------------------------------------------------------

    async def get_group(self, group_id: str) -> DirectoryGroup:
        """The group with this id; :class:`NotFound` when there is none."""
        path = f"/user-groups/{_segment(group_id, 'User group')}"
        response = await self._call("GET", "/user-groups/{id}", path)
        return group_from_json(decode_json(response.content))

    async def find_group_by_name(self, name: str) -> DirectoryGroup | None:
        """The group with exactly this name, if any."""
        response = await self._call("GET", "/user-groups", "/user-groups", params={"name": name})
        found = [group_from_json(g) for g in self._array(response)]
        return next((g for g in found if g.name == name), None)

    async def list_groups(self, page: int, per_page: int) -> Page[DirectoryGroup]:
        """One page of groups, in TelemetryTV's stable order."""
        params = {"page": page, "per_page": per_page}
        response = await self._call("GET", "/user-groups", "/user-groups", params=params)
        items = [group_from_json(g) for g in self._array(response)]
        return Page(items=items, total=parse_total(response.headers))

    async def create_group(self, name: str) -> DirectoryGroup:
        """Create a group and return it as stored; duplicate-safe like :meth:`create_user`."""
        outcome = _Outcome()
        try:
            response = await self._call(
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
        return group_from_json(decode_json(response.content))

    async def rename_group(self, group_id: str, name: str) -> DirectoryGroup:
        """Rename a group and return it as stored."""
        path = f"/user-groups/{_segment(group_id, 'User group')}"
        response = await self._call("PATCH", "/user-groups/{id}", path, body={"name": name})
        return group_from_json(decode_json(response.content))

    async def delete_group(self, group_id: str) -> None:
        """Delete a group; TelemetryTV drops it from its members."""
        path = f"/user-groups/{_segment(group_id, 'User group')}"
        await self._delete("/user-groups/{id}", path)

    async def _delete(self, template: str, path: str) -> None:
        outcome = _Outcome()
        try:
            await self._call("DELETE", template, path, outcome=outcome)
        except NotFound:
            # An earlier attempt may have deleted it before its reply was lost.
            if not outcome.maybe_applied:
                raise

    # -- transport -------------------------------------------------------------------

    @staticmethod
    def _array(response: httpx.Response) -> list[Any]:
        data = decode_json(response.content)
        if not isinstance(data, list):
            raise BadResponse("TelemetryTV answered a listing with something other than an array")
        return data

    async def _call(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        retry: bool = True,
        outcome: _Outcome | None = None,
    ) -> httpx.Response:
        adapter = self._adapter
        url = adapter.base_url + path
        content = orjson.dumps(body) if body is not None else None
        # What upstream error text must never pass on: the token, and any password sent.
        authorization = self._headers["Authorization"]
        secrets = [s for s in (authorization, authorization.partition(" ")[2], self._token) if s]
        if body is not None and isinstance(body.get("password"), str) and body["password"]:
            secrets.append(body["password"])
        outcome = outcome or _Outcome()
        attempt_number = 0

        async def attempt() -> httpx.Response:
            nonlocal attempt_number
            attempt_number += 1
            stats = request_stats()
            remaining = stats.remaining()
            if remaining is not None and remaining <= 0:
                raise UpstreamTimeout("the request's time budget is used up", request_sent=False)
            probing = adapter.breaker.before_call()
            stats.upstream_calls += 1
            if attempt_number > 1:
                stats.upstream_retries += 1
            try:
                response = await self._exchange(
                    method, url, template, params, content, remaining, attempt_number
                )
            except UpstreamUnavailable as exc:
                adapter.breaker.record_failure()
                outcome.maybe_applied |= exc.request_sent
                raise
            except BaseException:
                if probing:
                    adapter.breaker.abandon()
                raise
            status = response.status_code
            if status >= 500:
                adapter.breaker.record_failure()
                outcome.maybe_applied = True
            else:
                adapter.breaker.record_success()
            if not 200 <= status < 300:
                error = error_from_response(status, response.headers, response.content)
                # Upstream text is passed on to admins; never let it carry a secret.
                for secret in secrets:
                    error.message = error.message.replace(secret, "[redacted]")
                if isinstance(error, InvalidRequest):
                    error.fields = {
                        name: _scrubbed(text, secrets) for name, text in error.fields.items()
                    }
                raise error
            return response

        if not retry:
            return await attempt()
        return await adapter.attempts.run(attempt, idempotent=idempotent)

    async def _acquire_slot(self, remaining: float | None) -> None:
        """Wait for a slot under the process's cap on upstream calls, within the budget."""
        gate = self._adapter.gate
        if remaining is None:
            await gate.acquire()
            return
        try:
            async with asyncio.timeout(remaining):
                await gate.acquire()
        except TimeoutError:
            raise UpstreamTimeout(
                "no upstream slot came free within the request's time budget",
                request_sent=False,
            ) from None

    async def _exchange(
        self,
        method: str,
        url: str,
        template: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        remaining: float | None,
        attempt_number: int,
    ) -> httpx.Response:
        """One HTTP exchange, as an upstream error when no answer came back."""
        adapter = self._adapter
        started = time.perf_counter()
        status: int | None = None
        try:
            await self._acquire_slot(remaining)
            try:
                # Within the request's budget: a shorter timeout when less time is left.
                remaining = request_stats().remaining()
                timeout = (
                    httpx.Timeout(max(remaining, 0.001))
                    if remaining is not None and remaining < adapter.read_timeout
                    else httpx.USE_CLIENT_DEFAULT
                )
                response = await adapter.http.request(
                    method,
                    url,
                    params=params,
                    content=content,
                    headers=self._headers,
                    timeout=timeout,
                )
            finally:
                adapter.gate.release()
            status = response.status_code
            return response
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"TelemetryTV did not answer in time ({method})",
                request_sent=not provably_unsent(exc),
            ) from exc
        except httpx.HTTPError as exc:
            raise ConnectionFailed(
                f"could not reach TelemetryTV ({type(exc).__name__})",
                request_sent=not provably_unsent(exc),
            ) from exc
        finally:
            elapsed = time.perf_counter() - started
            UPSTREAM_CALLS.labels(template, method, str(status or 0)).inc()
            UPSTREAM_LATENCY.labels(template, method).observe(elapsed)
            wait, honoured = take_next_attempt_wait()
            log.info(
                "upstream_call",
                request_id=request_stats().request_id,
                method=method,
                path=template,
                status=status,
                attempt=attempt_number,
                duration_ms=round(elapsed * 1000, 2),
                wait_before_ms=round(wait * 1000, 1),
                retry_after_honoured=honoured,
            )


__all__ = [
    "AttemptPolicy",
    "SingleAttempt",
    "TelemetryTV",
    "TelemetryTVSession",
    "TooLarge",
    "UpstreamError",
]
