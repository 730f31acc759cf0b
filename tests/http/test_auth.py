"""The TelemetryTV API token taken from an inbound Authorization header."""

from __future__ import annotations

import base64

import pytest

from scim_proxy.http.auth import credentials_from_header, token_from_header
from scim_proxy.scim.errors import ScimError

TOKEN = "tTv_0123456789abcdef-XYZ.~+/="


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}",
        f"Token {TOKEN}",
        f"bearer {TOKEN}",
        f"BEARER {TOKEN}",
        f"token {TOKEN}",
        f"TOKEN {TOKEN}",
        f"  Bearer   {TOKEN}  ",
        basic(f"{TOKEN}:"),  # TelemetryTV's own Basic form: the token, no password
        basic(TOKEN),
        basic(f":{TOKEN}"),
        # Okta's Basic Auth mode: any user name, the token in the (masked) password field.
        basic(f"okta-provisioning:{TOKEN}"),
        basic(f"admin@example.com:{TOKEN}").replace("Basic", "BASIC"),
    ],
)
def test_accepted_headers_yield_the_token(header: str) -> None:
    assert token_from_header(header) == TOKEN


@pytest.mark.parametrize(
    ("header", "scheme", "source"),
    [
        (f"Bearer {TOKEN}", "bearer", "the Bearer token"),
        (f"Token {TOKEN}", "token", "the Token credentials"),
        (basic(f"user:{TOKEN}"), "basic", "the Basic password"),
        (basic(f"{TOKEN}:"), "basic", "the Basic user name (the password is empty)"),
    ],
)
def test_the_credentials_say_where_the_token_came_from(
    header: str, scheme: str, source: str
) -> None:
    found = credentials_from_header(header)
    assert (found.token, found.scheme, found.source) == (TOKEN, scheme, source)


def test_a_basic_user_name_and_password_send_the_password_as_the_token() -> None:
    # curl -u user:pass: "pass" is what is checked (allowlist, then TelemetryTV), never "user".
    assert token_from_header(basic("user:pass")) == "pass"


def test_malformed_basic_credentials_say_how_basic_is_read() -> None:
    for header in ("Basic !!!", basic(":"), basic("user:pass word")):
        with pytest.raises(ScimError) as caught:
            token_from_header(header)
        assert caught.value.reason == "malformed_authorization_header"
        assert "Basic" in caught.value.detail
        assert "password" in caught.value.detail


def test_a_token_of_1024_visible_characters_is_accepted() -> None:
    token = "x" * 1024
    assert token_from_header(f"Bearer {token}") == token


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "non-token",  # Okta's spec test sends exactly this
        "Bearer",
        "Bearer ",
        "Token",
        "Basic",
        "Digest abc",
        "Negotiate abc",
        "abc",
        "Bearer two words",
        "Bearer tok\nX-Injected: 1",
        "Bearer tok\r\nX-Injected: 1",
        "Bearer tok\x00en",
        "Bearer tok\ten",
        "Bearer t\u00f8ken",
        "Bearer \uff54\uff4f\uff4b",  # fullwidth "tok"
        "Bearer tok\u00a0en",
        "Bearer tok\x7f",
        "Bearer " + "x" * 1025,
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b":").decode(),
        "Basic " + base64.b64encode(b"").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
        basic("t\u00f8ken:"),
        basic("tok en:"),
        basic("tok\nen:"),
        f"{TOKEN}",
        f"Bearer{TOKEN}",
    ],
)
def test_unusable_headers_are_401_with_a_challenge(header: str | None) -> None:
    with pytest.raises(ScimError) as caught:
        token_from_header(header)
    error = caught.value
    assert error.status == 401
    assert error.headers["WWW-Authenticate"].startswith("Bearer")
    assert error.detail.strip()


def test_missing_header_detail_says_how_to_configure_the_client() -> None:
    with pytest.raises(ScimError) as caught:
        token_from_header(None)
    assert "Authorization" in caught.value.detail


def test_rejected_header_detail_does_not_echo_the_credentials() -> None:
    secret = "sekrit-\u00e9-value"
    with pytest.raises(ScimError) as caught:
        token_from_header(f"Bearer {secret}")
    assert secret not in caught.value.detail
    assert "Bearer" in caught.value.detail
