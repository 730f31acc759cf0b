"""scim2-models work of one request (reading, applying a PATCH), kept from holding the event
loop when it is large.

Reading and applying a PATCH is pure computation (scim2-models), about 0.1 to 0.3 ms per
operation. A PATCH of a few operations, what Okta and Entra send, is done in place; one
of hundreds (at most ``scim.max_patch_operations``) runs in a worker thread, so that the
event loop goes on serving other requests and health probes meanwhile, and under the
request's time budget: a request whose budget runs out first is answered 503 (the work,
which changes nothing outside the request, finishes in the background).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from ..ops.context import request_stats
from .errors import ScimError

T = TypeVar("T")

LARGE_WORK = 32
"""Items (PATCH operations) from which work leaves the event loop: below, a few ms."""


async def off_the_loop(work: Callable[[], T], *, size: int, what: str) -> T:
    """``work()``, in a worker thread when ``size`` is :data:`LARGE_WORK` or more.

    The thread runs in a copy of this context, so the request's bookkeeping (quirks,
    dropped attributes) is still noted on it.
    """
    if size < LARGE_WORK:
        return work()
    remaining = request_stats().remaining()
    try:
        async with asyncio.timeout(None if remaining is None else max(0.0, remaining)):
            return await asyncio.to_thread(work)
    except TimeoutError:
        raise ScimError(
            503,
            f"The proxy could not {what} within the request's time budget; retry later, or "
            "send the change in smaller requests.",
            headers={"Retry-After": "5"},
            reason="work_over_budget",
        ) from None
