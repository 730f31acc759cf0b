"""``[auth]``: the allowlist, throttling and trusted proxies, from TOML and the environment."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from scim_proxy.ops.config import AuthSettings, ConfigError, load_settings

A = hashlib.sha256(b"token-a").hexdigest()
B = hashlib.sha256(b"token-b").hexdigest()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scim-proxy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_keep_todays_behaviour() -> None:
    auth = load_settings(environ={}).auth
    assert auth == AuthSettings()
    assert auth.allowed_token_sha256 == ()
    assert (auth.failure_limit, auth.failure_window_seconds) == (20, 60.0)
    assert auth.trusted_proxies == ("127.0.0.1",)


def test_the_allowlist_from_toml_is_lower_cased(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'[auth]\nallowed_token_sha256 = ["{A.upper()}", " {B} "]\n'
        'trusted_proxies = ["10.0.0.0/8", "fd00::/8"]\nfailure_limit = 5\n',
    )
    auth = load_settings(path, environ={}).auth
    assert auth.allowed_token_sha256 == (A, B)
    assert auth.trusted_proxies == ("10.0.0.0/8", "fd00::/8")
    assert auth.failure_limit == 5


def test_lists_from_the_environment_are_comma_separated(tmp_path: Path) -> None:
    path = write(tmp_path, f'[auth]\nallowed_token_sha256 = ["{B}"]\n')
    env = {
        "SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": f"{A}, {B.upper()},",
        "SCIM_PROXY_AUTH_TRUSTED_PROXIES": "10.1.0.0/16,192.168.1.10",
        "SCIM_PROXY_AUTH_FAILURE_WINDOW_SECONDS": "300",
    }
    auth = load_settings(path, environ=env).auth
    assert auth.allowed_token_sha256 == (A, B)
    assert auth.trusted_proxies == ("10.1.0.0/16", "192.168.1.10")
    assert auth.failure_window_seconds == 300.0
    assert load_settings(environ={"SCIM_PROXY_AUTH_TRUSTED_PROXIES": ""}).auth.trusted_proxies == ()


@pytest.mark.parametrize(
    "digest",
    [A[:63], A + "0", A[:-1] + "g", f"{A}  -", "my-token"],
)
def test_a_digest_that_is_not_sha256_hex_is_refused_without_echoing_it(digest: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": f"{B},{digest}"})
    message = str(caught.value)
    assert "auth.allowed_token_sha256 entry 2" in message
    assert "token-sha256" in message
    assert digest.strip(" -") not in message


def test_a_list_setting_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f'[auth]\nallowed_token_sha256 = "{A}"\n')
    with pytest.raises(ConfigError, match=r"auth\.allowed_token_sha256 is not valid: use a list"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("FAILURE_LIMIT", "-1", "auth.failure_limit"),
        ("FAILURE_WINDOW_SECONDS", "0", "auth.failure_window_seconds"),
        ("MAX_TRACKED_CLIENTS", "5", "auth.max_tracked_clients"),
        ("TRUSTED_PROXIES", "*", "auth.trusted_proxies"),
        ("TRUSTED_PROXIES", "ingress.local", "auth.trusted_proxies"),
    ],
)
def test_unusable_values_name_the_setting(key: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(environ={f"SCIM_PROXY_AUTH_{key}": value})


def test_throttling_can_be_turned_off() -> None:
    assert load_settings(environ={"SCIM_PROXY_AUTH_FAILURE_LIMIT": "0"}).auth.failure_limit == 0


@pytest.mark.parametrize(
    ("entry", "fix"),
    [
        ("10.1.2.3/16", "use 10.1.0.0/16 for the range, or 10.1.2.3 for that one address"),
        ("127.0.0.1/8", "use 127.0.0.0/8"),
        ("fd00::1/8", "use fd00::/8"),
    ],
)
def test_a_trusted_proxy_range_with_host_bits_is_refused_with_the_network_to_use(
    entry: str, fix: str
) -> None:
    # uvicorn would silently trust nobody for such an entry, and X-Forwarded-For be ignored.
    with pytest.raises(ConfigError, match=r"auth\.trusted_proxies entry") as caught:
        load_settings(environ={"SCIM_PROXY_AUTH_TRUSTED_PROXIES": f"10.0.0.0/8,{entry}"})
    assert fix in str(caught.value)


@pytest.mark.parametrize("value", ["", " ", ",", " , ,"])
def test_an_allowlist_variable_set_to_no_digest_stops_start_up_naming_it(
    tmp_path: Path, value: str
) -> None:
    # With digests in the file, an empty override would leave none in force: fail closed.
    path = write(tmp_path, f'[auth]\nallowed_token_sha256 = ["{A}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={"SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": value})
    message = str(caught.value)
    assert message.startswith("SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256 is set but holds no digest")
    assert "unset SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256" in message


def test_blank_allowlist_entries_in_the_file_are_refused_but_an_empty_list_is_a_choice(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"^auth\.allowed_token_sha256 is set but holds no"):
        load_settings(write(tmp_path, '[auth]\nallowed_token_sha256 = [" "]\n'), environ={})
    off = load_settings(write(tmp_path, "[auth]\nallowed_token_sha256 = []\n"), environ={})
    assert off.auth.allowed_token_sha256 == ()


def test_requiring_an_allowlist_refuses_to_start_without_one() -> None:
    with pytest.raises(ConfigError, match=r"auth\.require_allowlist is on but"):
        load_settings(environ={"SCIM_PROXY_AUTH_REQUIRE_ALLOWLIST": "true"})
    required = load_settings(
        environ={
            "SCIM_PROXY_AUTH_REQUIRE_ALLOWLIST": "true",
            "SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256": A,
        }
    )
    assert required.auth.allowed_token_sha256 == (A,)
