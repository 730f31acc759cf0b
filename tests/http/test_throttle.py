"""The throttle's table and the allowlist's comparison, on their own (a fake clock)."""

from __future__ import annotations

import hashlib

import pytest

from scim_proxy.http.allowlist import TokenAllowlist, token_sha256
from scim_proxy.http.throttle import FailureThrottle, ProvenTokens, client_key


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
    assert [throttle.admit("a") for _ in range(4)] == [0, 0, 0, 1]
    throttle.settle("a", failed=False)
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
