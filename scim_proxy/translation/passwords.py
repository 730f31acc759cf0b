"""Passwords for users created without one (TelemetryTV requires a password)."""

from __future__ import annotations

import secrets
import string

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#$%&*+-=?@^_")
_ALPHABET = "".join(_CLASSES)
_USABLE = 256 - 256 % len(_ALPHABET)
"""Random bytes below this map evenly onto the alphabet (``byte % len``); the rest are
skipped, so that no character is likelier than another."""


def generate_password(length: int = 24) -> str:
    """A random password with every character class, for users who sign in with SSO.

    Uniform over the passwords of ``length`` characters from the alphabet that hold every
    class: characters are drawn evenly from the whole alphabet, and a draw missing a class
    is drawn again (about one in 25 at the default length). The randomness comes from
    ``secrets`` a buffer at a time: one ``secrets.choice`` per character cost a system
    call each, about 60 µs a password, on every user created without one.
    """
    if length < len(_CLASSES):
        raise ValueError(f"a password holding every class needs {len(_CLASSES)} characters")
    while True:
        chars: list[str] = []
        while len(chars) < length:
            drawn = secrets.token_bytes(2 * length)
            chars += [_ALPHABET[b % len(_ALPHABET)] for b in drawn if b < _USABLE]
        password = "".join(chars[:length])
        if all(any(c in group for c in password) for group in _CLASSES):
            return password
