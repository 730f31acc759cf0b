"""The throttle's table and the allowlist's comparison, on their own (a fake clock)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from scim_proxy.http.auth_guard.allowlist import TokenAllowlist, token_sha256
from scim_proxy.http.auth_guard.throttle import BUSY, FailureThrottle, ProvenTokens, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_sha256_is_what_sha256sum_prints() -> None:
    assert token_sha256("abc") == hashlib.sha256(b"abc").hexdigest()


def test_the_allowlist_compares_whole_digests() -> None:
    allowlist = TokenAllowlist([token_sha256("one"), token_sha256("two").upper()])
    assert allowlist.enabled
    assert len(allowlist) == 2
    assert allowlist.allows_digest(token_sha256("one"))
    assert allowlist.allows_digest(token_sha256("two"))
    assert not allowlist.allows_digest(token_sha256("three"))
    assert not allowlist.allows_digest(token_sha256("one")[:-1])
    assert not TokenAllowlist([]).enabled


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_ipv6_clients_count_per_64(host: str | None, key: str) -> None:
    assert client_key(host) == key


def test_failures_throttle_until_the_window_from_the_first_one_passes() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=3, window=10, max_clients=100, clock=clock)
    started = []
    for _ in range(3):
        assert throttle.admit("a") == 0
        started.append(throttle.settle("a", failed=True))
        clock.now += 2
    assert started == [False, False, True]
    assert throttle.admit("a") == 4  # 10 s from the first failure, 6 s ago
    assert throttle.admit("b") == 0
    clock.now += 3.5
    assert throttle.admit("a") == 1
    clock.now += 0.5
    assert throttle.admit("a") == 0


def test_successes_do_not_count_and_failures_outside_the_window_start_afresh() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=2, window=10, max_clients=100, clock=clock)
    for _ in range(5):
        assert throttle.admit("a") == 0
        throttle.settle("a", failed=False)
    assert throttle.admit("a") == 0
    throttle.settle("a", failed=True)
    clock.now += 10
    assert throttle.admit("a") == 0
    throttle.settle("a", failed=True)
    assert throttle.admit("a") == 0


def test_requests_in_flight_count_against_the_limit() -> None:
    throttle = FailureThrottle(limit=3, window=10, max_clients=100, clock=Clock())
    # No failure yet: the one beyond the limit in flight waits its turn, it is not refused.
    assert [throttle.admit("a") for _ in range(4)] == [0, 0, 0, BUSY]
    throttle.settle("a", failed=False)
    assert throttle.admit("a") == 0
    # Once the address has failed, the requests that could reach the limit are refused.
    throttle.settle("a", failed=True)
    assert throttle.admit("a") == 1


@pytest.mark.anyio
async def test_an_address_that_never_failed_waits_for_a_slot_and_is_never_refused() -> None:
    throttle = FailureThrottle(limit=2, window=10, max_clients=100, clock=Clock())
    assert [throttle.admit("a") for _ in range(2)] == [0, 0]
    waiting = [asyncio.ensure_future(throttle.wait_turn("a", patience=60)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiting)
    # Each success hands its slot to the longest waiting, in order.
    throttle.settle("a", failed=False)
    assert await waiting[0] == 0
    assert not waiting[1].done()
    throttle.settle("a", failed=False)
    assert await waiting[1] == 0
    # A newcomer queues behind the one still waiting rather than take the next slot.
    assert throttle.admit("a") == BUSY
    throttle.settle("a", failed=False)
    assert await waiting[2] == 0


@pytest.mark.anyio
async def test_the_first_failure_refuses_those_waiting() -> None:
    throttle = FailureThrottle(limit=2, window=10, max_clients=100, clock=Clock())
    assert [throttle.admit("a") for _ in range(2)] == [0, 0]
    waiting = [asyncio.ensure_future(throttle.wait_turn("a", patience=60)) for _ in range(5)]
    await asyncio.sleep(0)
    throttle.settle("a", failed=True)
    # One failure and one request in flight could reach the limit: all are refused.
    assert await asyncio.gather(*waiting) == [1] * 5


@pytest.mark.anyio
async def test_a_wait_ends_with_busy_when_no_slot_comes_free() -> None:
    throttle = FailureThrottle(limit=1, window=10, max_clients=100, clock=Clock())
    assert throttle.admit("a") == 0
    assert await throttle.wait_turn("a", patience=0.01) == BUSY
    # The one that gave up holds no place: the next success frees the slot for anyone.
    throttle.settle("a", failed=False)
    assert throttle.admit("a") == 0


@pytest.mark.anyio
async def test_a_cancelled_waiter_gives_back_a_slot_handed_to_it() -> None:
    throttle = FailureThrottle(limit=1, window=10, max_clients=100, clock=Clock())
    assert throttle.admit("a") == 0
    waiter = asyncio.ensure_future(throttle.wait_turn("a", patience=60))
    await asyncio.sleep(0)
    throttle.settle("a", failed=False)  # the slot is handed over...
    waiter.cancel()  # ...but the client went away before it could use it
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert throttle.admit("a") == 0


def test_the_table_forgets_the_least_recently_seen_address() -> None:
    throttle = FailureThrottle(limit=1, window=10, max_clients=3, clock=Clock())
    for client in ("a", "b", "c"):
        throttle.admit(client)
        throttle.settle(client, failed=True)
    assert throttle.admit("a")  # "a" is throttled, and now the most recently seen
    throttle.admit("d")
    assert len(throttle) == 3
    assert throttle.admit("b") == 0  # "b" was forgotten
    assert throttle.admit("a")


def test_proven_tokens_are_bounded_and_forgettable() -> None:
    proven = ProvenTokens(capacity=2)
    for digest in ("x", "y", "z"):
        proven.add(digest)
    assert "x" not in proven
    assert "y" in proven
    assert "z" in proven
    proven.discard("y")
    assert "y" not in proven
    assert len(proven) == 1
