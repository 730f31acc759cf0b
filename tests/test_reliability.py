"""An Okta-like workload at a 30% fault rate of every kind ends exactly as intended.

The full-size run (200 users, 20 groups) and its figures are in docs/reliability.md;
this is the same workload at a size that fits CI.
"""

from __future__ import annotations

from bench.okta_workload import run
from scim_proxy.simulator.faults import FAULT_KINDS


def test_a_faulty_telemetrytv_loses_and_duplicates_nothing() -> None:
    report = run(users=24, groups=4, fail_rate=0.3, seed=11)
    assert report.lost_writes == []
    assert report.duplicates == []
    # The run met every kind of fault, and clients saw failures they had to retry.
    assert set(report.faults) == set(FAULT_KINDS)
    assert report.task_retries > 0
