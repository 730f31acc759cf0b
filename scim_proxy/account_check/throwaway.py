"""The names the write check gives what it creates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Throwaway:
    """The names the check gives what it creates: unmistakable, random, on a chosen domain."""

    tag: str
    domain: str
    given: str = "SCIM proxy"
    family: str = "Check"
    new_given: str = "SCIM proxy (updated)"
    new_family: str = "Check (updated)"

    @classmethod
    def new(cls, domain: str) -> Throwaway:
        """Fresh names: ``scim-proxy-check-<12 random hex digits>``."""
        return cls(f"scim-proxy-check-{secrets.token_hex(6)}", domain)

    @property
    def email(self) -> str:
        """The user's email at creation."""
        return f"{self.tag}@{self.domain}"

    @property
    def changed_email(self) -> str:
        """The user's email after the change."""
        return f"{self.tag}-changed@{self.domain}"

    @property
    def group(self) -> str:
        """The group's name at creation."""
        return self.tag

    @property
    def renamed_group(self) -> str:
        """The group's name after the rename."""
        return f"{self.tag}-renamed"
