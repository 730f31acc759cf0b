"""What both ways of writing memberships share: reads, bounded fan-out, honest failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from ...directory import DirectoryUser
from ...scim.errors import ScimError
from ...telemetrytv.client import TelemetryTVSession
from ...telemetrytv.errors import CircuitOpen, RateLimited, UpstreamError
from ..errors import scim_error_for, upstream_cause
from .redis_locks import HeldLock

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A user as read, when the read was sent (monotonic seconds), and, in ``redis``
    coordination, the user's lock when it was taken before the read and is still held
    (the write then starts from this read and releases it)."""

    user: DirectoryUser
    read_at: float
    held: HeldLock | None = None


class MembershipIncomplete(ScimError):
    """Some membership changes could not be applied; the request may be sent again."""


async def bounded(
    items: Iterable[K], work: Callable[[K], Awaitable[T]], limit: int
) -> dict[K, T | BaseException]:
    """Run ``work`` on every item, at most ``limit`` at once; exceptions are collected."""
    gate = asyncio.Semaphore(limit)

    async def one(item: K) -> T:
        async with gate:
            return await work(item)

    keys = list(items)
    results = await asyncio.gather(*(one(k) for k in keys), return_exceptions=True)
    return dict(zip(keys, results, strict=True))


async def read_user(
    session: TelemetryTVSession, user_id: str, held: HeldLock | None = None
) -> Snapshot:
    """Read one user, noting when the read was sent (and the lock held around it)."""
    read_at = time.monotonic()
    return Snapshot(await session.get_user(user_id), read_at, held)


def stop_if_told_to_wait(failures: Iterable[object], *, done: int) -> None:
    """A throttled or paused TelemetryTV ends the request now, passing its wait on.

    Another round a second later would only hammer it; the IdP retries after
    ``Retry-After`` and the request converges then.
    """
    for failure in failures:
        if isinstance(failure, RateLimited | CircuitOpen):
            error = scim_error_for(failure, resource="User")
            cause = upstream_cause(failure, resource="User")
            wait = error.headers.get("Retry-After", "a few")
            raise MembershipIncomplete(
                error.status,
                f"Membership update incomplete ({done} changes in place) because {cause}; "
                f"send the request again after {wait} seconds, it converges",
                error.scim_type,
                headers=error.headers,
                reason=error.reason,
            ) from failure


def incomplete(
    *, done: int, total: int, failure: BaseException | None, why: str
) -> MembershipIncomplete:
    """The error for changes not all in place: from the upstream failure, else 503."""
    pending = total - done
    if isinstance(failure, UpstreamError):
        error = scim_error_for(failure, resource="User")
        cause = upstream_cause(failure, resource="User")
        result = MembershipIncomplete(
            error.status,
            f"Membership update incomplete: {done} of {total} changes are in place and "
            f"{pending} are not, because {cause}; send the request again, it converges",
            error.scim_type,
            headers=error.headers,
            # TelemetryTV's failure says why, as it would for any other request.
            reason=error.reason,
        )
    else:
        result = MembershipIncomplete(
            503,
            f"Membership update incomplete: {done} of {total} changes are in place and "
            f"{pending} {why}; send the request again, it converges",
            headers={"Retry-After": "5"},
            reason="membership_incomplete",
        )
    result.__cause__ = failure
    return result
