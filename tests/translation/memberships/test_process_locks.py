"""This process's per-user locks and its memory of when it last wrote each user."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scim_proxy.ops.config import MAX_REQUEST_BUDGET_SECONDS
from scim_proxy.translation.memberships import process_locks
from scim_proxy.translation.memberships.process_locks import UserLocks


def test_a_write_is_remembered_for_as_long_as_the_longest_request_may_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(process_locks, "time", SimpleNamespace(monotonic=lambda: now[0]))
    locks = UserLocks()
    locks.wrote("early")
    # A request with the largest budget read "early" before that write, and writes now.
    now[0] += MAX_REQUEST_BUDGET_SECONDS
    locks.wrote("other")  # forgetting old writes happens on each write
    assert locks.last_write("early") == 1000.0, "a read that old could pass as current"
    now[0] += 3600
    locks.wrote("other")
    assert locks.last_write("early") == 0.0, "writes older than any request are forgotten"
