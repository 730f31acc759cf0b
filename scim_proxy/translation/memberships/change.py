"""One change to one user's group list: groups to be in, groups to leave, or an exact list."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserChange:
    """ "After this, the user is in ``add``, not in ``remove``, and (given) in exactly ``exactly``."

    Every change is idempotent: applying it to a list that already holds it changes nothing.
    """

    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    exactly: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        add: Collection[str] = (),
        remove: Collection[str] = (),
        exactly: Collection[str] | None = None,
    ) -> UserChange:
        """A change from any collections; contradictory ones are a programming error."""
        change = cls(
            frozenset(add), frozenset(remove), None if exactly is None else frozenset(exactly)
        )
        if change.add & change.remove:
            raise ValueError("a group cannot be both added and removed")
        if change.exactly is not None and (
            change.add - change.exactly or change.remove & change.exactly
        ):
            raise ValueError("add and remove must agree with exactly")
        return change

    def holds(self, group_ids: Collection[str]) -> bool:
        """Whether a user with this group list already has the change in place."""
        current = set(group_ids)
        if self.exactly is not None:
            return current == self.exactly
        return self.add <= current and not self.remove & current

    def applied(self, group_ids: tuple[str, ...]) -> tuple[str, ...]:
        """The group list with the change made (existing order kept, new ids appended)."""
        keep = self.exactly if self.exactly is not None else None
        result = [g for g in group_ids if g not in self.remove and (keep is None or g in keep)]
        wanted = self.add | (self.exactly or frozenset())
        result.extend(sorted(wanted - set(result)))
        return tuple(dict.fromkeys(result))

    @property
    def adds(self) -> bool:
        """Whether the change needs the user to exist (it puts them in some group)."""
        return bool(self.add or self.exactly)
