"""Membership changes that are never lost, even with concurrent writers.

TelemetryTV keeps a membership as an entry in the user's group list and offers no
conditional update, so every change is a read-modify-write of that list, coordinated
against other writers by ``groups.coordination`` (docs/memberships.md). The modules:

- ``writer.py``: :class:`MembershipWriter`, the primitive every group-list change goes
  through (group pushes, role writes, ``check --write``);
- ``change.py``: :class:`UserChange`, one change to one user's group list;
- ``coordinator.py``: :class:`Coordinator`, the mode in force for this process and the
  locks it uses;
- ``locked_writes.py``: ``redis`` and ``process`` modes, each user read and written under
  its lock;
- ``verified_writes.py``: ``verify`` mode, write, settle, read back, re-apply;
- ``rounds.py``: what both ways share: reads, bounded fan-out, honest failures;
- ``redis_locks.py``: the per-user locks in Redis, shared by every process;
- ``process_locks.py``: the per-user locks inside this process.
"""

from .coordinator import Coordinator
from .rounds import MembershipIncomplete, Snapshot, bounded
from .writer import MembershipWriter

__all__ = ["Coordinator", "MembershipIncomplete", "MembershipWriter", "Snapshot", "bounded"]
