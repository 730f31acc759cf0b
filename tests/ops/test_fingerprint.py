"""Token fingerprints: the keyed hash, whether computed now or remembered."""

from __future__ import annotations

import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from scim_proxy.ops import fingerprint
from scim_proxy.ops.fingerprint import token_fingerprint


def _keyed_hash(token: str, key: str) -> str:
    secret = key.encode() if key else b"scim-proxy token fingerprint v1"
    return hmac.new(secret, token.encode(), "sha256").hexdigest()[:16]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60), st.sampled_from(["", "k1", "another key"]))
def test_a_fingerprint_is_the_keyed_hash_first_time_and_after(token: str, key: str) -> None:
    assert token_fingerprint(token, key) == _keyed_hash(token, key)
    assert token_fingerprint(token, key) == _keyed_hash(token, key)


def test_one_token_under_two_keys_has_two_fingerprints() -> None:
    assert token_fingerprint("tok-1", "a") != token_fingerprint("tok-1", "b")


def test_remembered_fingerprints_are_bounded_and_never_keep_the_token() -> None:
    for n in range(fingerprint._KNOWN_LIMIT + 10):
        token_fingerprint(f"secret-token-{n}")
    assert len(fingerprint._known) <= fingerprint._KNOWN_LIMIT
    assert not any("secret-token" in repr(k) for k in fingerprint._known)
