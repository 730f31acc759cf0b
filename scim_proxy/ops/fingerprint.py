"""Token fingerprints: which token a request used, without the token."""

from __future__ import annotations

import hmac

_DEFAULT_KEY = b"scim-proxy token fingerprint v1"


def token_fingerprint(token: str, key: str = "") -> str:
    """A short keyed hash of ``token``: stable for a key, not reversible, 16 hex digits."""
    secret = key.encode() if key else _DEFAULT_KEY
    # hmac.digest is the one-shot C path: the same value as hmac.new(...).hexdigest(),
    # without building an HMAC object on every request.
    return hmac.digest(secret, token.encode(), "sha256").hex()[:16]
