"""Token fingerprints: which token a request used, without the token."""

from __future__ import annotations

import hashlib
import hmac

_DEFAULT_KEY = b"scim-proxy token fingerprint v1"

_known: dict[tuple[str, bytes], str] = {}
"""Fingerprints already computed, under the token's SHA-256 (never the token itself).

Every request fingerprints its token and an IdP sends one token: the keyed hash (about
3 µs through OpenSSL's HMAC) is looked up instead, after a plain SHA-256 (0.4 µs)."""

_KNOWN_LIMIT = 1024


def token_fingerprint(token: str, key: str = "") -> str:
    """A short keyed hash of ``token``: stable for a key, not reversible, 16 hex digits."""
    raw = token.encode()
    known = (key, hashlib.sha256(raw).digest())
    found = _known.get(known)
    if found is None:
        secret = key.encode() if key else _DEFAULT_KEY
        # hmac.digest is the one-shot C path: the same value as hmac.new(...).hexdigest(),
        # without building an HMAC object.
        found = hmac.digest(secret, raw, "sha256").hex()[:16]
        if len(_known) >= _KNOWN_LIMIT:
            _known.clear()  # bounded: tokens are the clients' to choose
        _known[known] = found
    return found
