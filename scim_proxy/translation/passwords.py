"""Passwords for users created without one (TelemetryTV requires a password)."""

from __future__ import annotations

import secrets
import string

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#$%&*+-=?@^_")


def generate_password(length: int = 24) -> str:
    """A random password with every character class, for users who sign in with SSO."""
    alphabet = "".join(_CLASSES)
    chars = [secrets.choice(group) for group in _CLASSES]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
