"""Failed-authentication throttling: per client address, a window and a failure count.

A client address that collects ``limit`` 401s within ``window`` seconds (counted from its
first failure) is answered 429 with no upstream call until that window has passed. An
address with no failure in its window is never answered 429: at most ``limit`` of its
requests are in flight at once, and the next ones wait their turn (:meth:`FailureThrottle.
wait_turn`), so a fresh process's burst of good requests is served, not refused. The
table is per process (each worker and replica counts on its own) and bounded: beyond
``max_clients`` addresses the least recently seen is forgotten, so a flood of distinct
addresses costs a fixed amount of memory. IPv6 clients count per /64, the block one
subscriber usually holds, so one host cannot walk its prefix to dodge the count.

:class:`ProvenTokens` remembers (by digest) tokens TelemetryTV accepted, so that without an
allowlist the real IdP keeps working when a stranger's failures throttle the address it
shares (NAT, or an ingress whose ``X-Forwarded-For`` is not trusted).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ...ops.metrics import AUTH_CLIENTS_FORGOTTEN

UNKNOWN_CLIENT = "unknown"

BUSY = -1
"""What :meth:`FailureThrottle.admit` answers for an address with no failure yet but
``limit`` requests in flight: wait for one of them to be answered, do not refuse."""


def client_key(host: str | None) -> str:
    """The address failures are counted under: the host itself, or its /64 for IPv6."""
    if not host:
        return UNKNOWN_CLIENT
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host[:64]
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return f"{ipaddress.IPv6Address(int(address) >> 64 << 64)}/64"


class _Failures:
    __slots__ = ("count", "pending", "started", "waiters")

    def __init__(self, started: float) -> None:
        self.started = started
        self.count = 0
        self.pending = 0
        # Requests waiting for an in-flight slot, first come first served: True hands one
        # the slot of a request answered with success, False tells it to ask again.
        self.waiters: deque[asyncio.Future[bool]] = deque()

    def wake_all(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)

    def hand_over(self) -> bool:
        """Give an answered request's slot to the first request still waiting, if any."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return True
        return False


class FailureThrottle:
    """Counts 401s per client address and says how long a throttled address must wait.

    Requests still in flight count against the limit too (``pending``): otherwise a client
    sending thousands of guesses at once would have them all forwarded before the first
    401 came back. Until an address's first failure, the requests beyond ``limit`` in
    flight wait (:data:`BUSY`); from it on, those that could reach the limit get 429.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._table: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def admit(self, client: str) -> int:
        """Let one request of ``client`` in (0), or the whole seconds it must wait first.

        An admitted request must be :meth:`settle`-d once it is answered.
        """
        table = self._table
        now = self._clock()
        entry = table.get(client)
        if entry is None:
            entry = _Failures(now)
            table[client] = entry
            self._bound()
        elif entry.count and now - entry.started >= self.window:
            entry.count = 0
        if entry.count >= self.limit:
            # Still knocking: keep it among the most recently seen, so a flood from other
            # addresses does not push it out of the table and free it early.
            table.move_to_end(client)
            return max(1, math.ceil(entry.started + self.window - now))
        waiters = entry.waiters
        while waiters and waiters[0].done():
            waiters.popleft()  # gave up waiting
        if not entry.count and (entry.pending >= self.limit or waiters):
            # No failure yet, but enough requests in flight to reach the limit should they
            # all fail: the next one waits its turn (it may well be the IdP's burst).
            table.move_to_end(client)
            return BUSY
        if entry.count + entry.pending >= self.limit:
            # This address has failed before and enough of its requests are in flight to
            # reach the limit: refused until they are answered.
            return 1
        table.move_to_end(client)
        entry.pending += 1
        return 0

    def retry_after(self, client: str) -> int:
        """Whole seconds ``client`` must wait before its failures are forgotten; 0 if none.

        For requests that take no in-flight slot (a ``/metrics`` scrape: no upstream call)
        but must not be served to an address that keeps failing authentication.
        """
        entry = self._table.get(client)
        if entry is None or entry.count < self.limit:
            return 0
        now = self._clock()
        if now - entry.started >= self.window:
            return 0
        self._table.move_to_end(client)  # still knocking: remembered, as admit does
        return max(1, math.ceil(entry.started + self.window - now))

    async def wait_turn(self, client: str, patience: float) -> int:
        """:meth:`admit`, waiting up to ``patience`` seconds while it answers :data:`BUSY`.

        0 once admitted (then :meth:`settle` it), seconds to wait when the address failed in
        the meantime, or :data:`BUSY` when no slot came free in time.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + patience
        first = True
        while True:
            verdict = self.admit(client)
            remaining = give_up - loop.time()
            if verdict != BUSY or remaining <= 0:
                return verdict
            entry = self._table[client]
            waiter: asyncio.Future[bool] = loop.create_future()
            # One woken but beaten to the slot keeps its place at the front.
            if first:
                entry.waiters.append(waiter)
            else:
                entry.waiters.appendleft(waiter)
            first = False
            try:
                await asyncio.wait((waiter,), timeout=remaining)
            except BaseException:
                # Cancelled (the client went away): give back a slot handed over meanwhile.
                if waiter.done() and waiter.result():
                    self.settle(client, failed=False)
                waiter.cancel()
                raise
            if not waiter.done():
                waiter.cancel()  # skipped by whoever wakes the queue next
                return BUSY
            if waiter.result():
                return 0  # the slot of an answered request was handed over

    def settle(self, client: str, *, failed: bool, admitted: bool = True) -> bool:
        """A request of ``client`` was answered; True when its failure starts the throttling.

        ``admitted``: whether :meth:`admit` let it in (a proven token may pass without).
        """
        entry = self._table.get(client)
        if admitted and entry is not None and entry.pending:
            # A success hands its slot straight to the first request waiting, if any.
            handed = not failed and not entry.count and entry.hand_over()
            if not handed:
                entry.pending -= 1
        if not failed:
            return False
        now = self._clock()
        if entry is None:
            # Forgotten while in flight (the table was full): count afresh.
            entry = _Failures(now)
            self._table[client] = entry
            self._bound()
        elif not entry.count or now - entry.started >= self.window:
            entry.started, entry.count = now, 0
        entry.count += 1
        # It has failed now: those waiting ask again, and most will be refused.
        entry.wake_all()
        return entry.count == self.limit

    def _bound(self) -> None:
        """Forget the least recently seen address when the table is over its size."""
        if len(self._table) > self.max_clients:
            _, forgotten = self._table.popitem(last=False)
            forgotten.wake_all()  # they ask again, under a fresh entry
            AUTH_CLIENTS_FORGOTTEN.inc()


class ProvenTokens:
    """Digests of tokens TelemetryTV recently accepted, least recently used forgotten first."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._digests: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, digest: object) -> bool:
        return digest in self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def add(self, digest: str) -> None:
        """Remember that TelemetryTV accepted the token with this digest."""
        self._digests[digest] = None
        self._digests.move_to_end(digest)
        if len(self._digests) > self.capacity:
            self._digests.popitem(last=False)

    def discard(self, digest: str) -> None:
        """Forget a token TelemetryTV has since refused."""
        self._digests.pop(digest, None)
