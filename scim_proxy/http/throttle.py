"""Failed-authentication throttling: per client address, a window and a failure count.

A client address that collects ``limit`` 401s within ``window`` seconds (counted from its
first failure) is answered 429 with no upstream call until that window has passed. The
table is per process (each worker and replica counts on its own) and bounded: beyond
``max_clients`` addresses the least recently seen is forgotten, so a flood of distinct
addresses costs a fixed amount of memory. IPv6 clients count per /64, the block one
subscriber usually holds, so one host cannot walk its prefix to dodge the count.

:class:`ProvenTokens` remembers (by digest) tokens TelemetryTV accepted, so that without an
allowlist the real IdP keeps working when a stranger's failures throttle the address it
shares (NAT, or an ingress whose ``X-Forwarded-For`` is not trusted).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from ..ops.metrics import AUTH_CLIENTS_FORGOTTEN

UNKNOWN_CLIENT = "unknown"


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
    __slots__ = ("count", "pending", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.count = 0
        self.pending = 0


class FailureThrottle:
    """Counts 401s per client address and says how long a throttled address must wait.

    Requests still in flight count against the limit too (``pending``): otherwise a client
    sending thousands of guesses at once would have them all forwarded before the first
    401 came back.
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
            if len(table) > self.max_clients:
                table.popitem(last=False)
                AUTH_CLIENTS_FORGOTTEN.inc()
        elif entry.count and now - entry.started >= self.window:
            entry.count = 0
        if entry.count >= self.limit:
            # Still knocking: keep it among the most recently seen, so a flood from other
            # addresses does not push it out of the table and free it early.
            table.move_to_end(client)
            return max(1, math.ceil(entry.started + self.window - now))
        if entry.count + entry.pending >= self.limit:
            # Enough requests in flight to reach the limit should they all fail: the next
            # one waits for them to be answered.
            return 1
        table.move_to_end(client)
        entry.pending += 1
        return 0

    def settle(self, client: str, *, failed: bool, admitted: bool = True) -> bool:
        """A request of ``client`` was answered; True when its failure starts the throttling.

        ``admitted``: whether :meth:`admit` let it in (a proven token may pass without).
        """
        entry = self._table.get(client)
        if admitted and entry is not None and entry.pending:
            entry.pending -= 1
        if not failed:
            return False
        now = self._clock()
        if entry is None:
            # Forgotten while in flight (the table was full): count afresh.
            entry = _Failures(now)
            self._table[client] = entry
            if len(self._table) > self.max_clients:
                self._table.popitem(last=False)
                AUTH_CLIENTS_FORGOTTEN.inc()
        elif not entry.count or now - entry.started >= self.window:
            entry.started, entry.count = now, 0
        entry.count += 1
        return entry.count == self.limit


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
