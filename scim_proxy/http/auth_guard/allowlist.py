"""The token allowlist: the TelemetryTV tokens this deployment is meant to carry.

Operators list the SHA-256 digests of their tokens (``auth.allowed_token_sha256``), never
the tokens themselves. A presented token is hashed once and its digest compared with
every allowed digest in constant time, so neither the answer nor its timing tells a
guesser how close a guess came.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def token_sha256(token: str) -> str:
    """The lower-case hex SHA-256 of ``token`` (what ``printf %s "$TOKEN" | sha256sum`` prints)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAllowlist:
    """The allowed token digests; empty means every token is let through to TelemetryTV."""

    def __init__(self, digests: Iterable[str]) -> None:
        # Encoded once here: compare_digest wants bytes (or ASCII str) of equal kind.
        self._digests = tuple(d.lower().encode("ascii") for d in digests)

    @property
    def enabled(self) -> bool:
        """Whether an allowlist is configured at all."""
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def allows_digest(self, digest: str) -> bool:
        """Whether ``digest`` (of a presented token) is allowed, compared in constant time."""
        presented = digest.encode("ascii")
        allowed = False
        # Every digest is compared, none skipped once one matches: the time taken does not
        # depend on which entry (if any) matched.
        for candidate in self._digests:
            allowed |= hmac.compare_digest(presented, candidate)
        return allowed
