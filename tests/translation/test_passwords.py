"""Generated passwords for users created without one."""

from __future__ import annotations

import string

import pytest

from scim_proxy.translation.passwords import generate_password

SYMBOLS = "!#$%&*+-=?@^_"
CLASSES = [string.ascii_lowercase, string.ascii_uppercase, string.digits, SYMBOLS]


@pytest.mark.parametrize("attempt", range(50))
def test_every_character_class_is_present(attempt: int) -> None:
    password = generate_password()
    for chars in CLASSES:
        assert any(c in chars for c in password), (chars, password)


def test_only_known_characters_are_used() -> None:
    allowed = set("".join(CLASSES))
    for _ in range(50):
        assert set(generate_password()) <= allowed


@pytest.mark.parametrize("length", [4, 12, 24, 64])
def test_password_has_the_requested_length(length: int) -> None:
    password = generate_password(length)
    assert len(password) == length
    for chars in CLASSES:
        assert any(c in chars for c in password)


def test_default_length_is_at_least_sixteen() -> None:
    assert len(generate_password()) >= 16


def test_two_passwords_differ() -> None:
    assert generate_password() != generate_password()


def test_passwords_are_spread_over_the_alphabet() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    first_chars = {p[0] for p in passwords}
    assert len(first_chars) > 20


def test_too_short_for_every_class_is_refused() -> None:
    with pytest.raises(ValueError, match="4 characters"):
        generate_password(3)


def test_every_character_is_equally_likely(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes past the last whole multiple of the alphabet's size are skipped: with them,
    the first characters of the alphabet would come up more often than the others."""
    import scim_proxy.translation.passwords as passwords

    alphabet = "".join(CLASSES)
    usable = 256 - 256 % len(alphabet)
    # First only the bytes to skip, then every byte value once: an even mapping gives
    # each character the same count.
    draws = iter([bytes(range(usable, 256)), bytes(range(256))])
    monkeypatch.setattr(passwords.secrets, "token_bytes", lambda n: next(draws))
    password = generate_password(usable)
    counts = {c: password.count(c) for c in alphabet}
    assert set(counts.values()) == {usable // len(alphabet)}, counts
