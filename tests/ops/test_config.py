"""Settings from a TOML file and SCIM_PROXY_<SECTION>_<KEY> overrides, and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from scim_proxy.ops.config import (
    CONFIG_ENV,
    ConfigError,
    Deactivation,
    LogFormat,
    Settings,
    load_settings,
    naming_variables,
)
from scim_proxy.telemetrytv import AuthScheme, TransportKind

NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scim-proxy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(match: str, env: dict[str, str] | None = None, *, path: Path | None = None) -> str:
    """Load with ``env`` and return the ConfigError message, which must contain ``match``."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=env or {})
    message = str(caught.value)
    assert match in message, message
    return message


# -- defaults and sources ------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ=NO_ENV)
    assert settings == Settings()
    assert settings.upstream.base_url == "https://api.telemetrytv.com"
    assert settings.upstream.auth_scheme is AuthScheme.token
    assert settings.upstream.transport is TransportKind.aiohttp
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.scim.max_count <= settings.upstream.page_size
    assert settings.users.deactivation is Deactivation.disable
    assert settings.logging.format is LogFormat.json


def test_toml_file_sets_every_kind_of_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[server]
port = 9000
public_base_url = "https://scim.example.com/scim/v2"

[upstream]
base_url = "https://tv.example.com/api"
auth_scheme = "basic"
read_timeout = 12
connect_timeout = 2.5
insecure_skip_tls_verify = true
page_size = 200

[scim]
max_count = 150

[users]
deactivation = "delete"

[logging]
level = "debug"
format = "console"
""",
    )
    settings = load_settings(path, environ=NO_ENV)
    assert settings.server.port == 9000
    assert settings.server.public_base_url == "https://scim.example.com/scim/v2"
    assert settings.upstream.base_url == "https://tv.example.com/api"
    assert settings.upstream.auth_scheme is AuthScheme.basic
    assert settings.upstream.read_timeout == 12.0
    assert isinstance(settings.upstream.read_timeout, float)
    assert settings.upstream.connect_timeout == 2.5
    assert settings.upstream.insecure_skip_tls_verify is True
    assert (settings.upstream.page_size, settings.scim.max_count) == (200, 150)
    assert settings.users.deactivation is Deactivation.delete
    assert (settings.logging.level, settings.logging.format) == ("debug", LogFormat.console)
    assert settings.scim.default_count == 100


def test_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[upstream]\nauth_scheme = "bearer"\n')
    settings = load_settings(environ={CONFIG_ENV: str(path)})
    assert settings.upstream.auth_scheme is AuthScheme.bearer


def test_explicit_path_wins_over_config_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9100\n")
    settings = load_settings(path, environ={CONFIG_ENV: str(tmp_path / "missing.toml")})
    assert settings.server.port == 9100


# -- environment overrides -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "section", "key", "expected"),
    [
        (
            "SCIM_PROXY_UPSTREAM_BASE_URL",
            "https://o.test",
            "upstream",
            "base_url",
            "https://o.test",
        ),
        ("SCIM_PROXY_SERVER_HOST", "10.0.0.5", "server", "host", "10.0.0.5"),
        ("SCIM_PROXY_SERVER_PORT", " 8443 ", "server", "port", 8443),
        ("SCIM_PROXY_UPSTREAM_POOL_SIZE", "7", "upstream", "pool_size", 7),
        ("SCIM_PROXY_UPSTREAM_READ_TIMEOUT", "2.5", "upstream", "read_timeout", 2.5),
        ("SCIM_PROXY_UPSTREAM_CONNECT_TIMEOUT", "3", "upstream", "connect_timeout", 3.0),
        (
            "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY",
            "false",
            "upstream",
            "insecure_skip_tls_verify",
            False,
        ),
        (
            "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY",
            "0",
            "upstream",
            "insecure_skip_tls_verify",
            False,
        ),
        (
            "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY",
            "No",
            "upstream",
            "insecure_skip_tls_verify",
            False,
        ),
        (
            "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY",
            "off",
            "upstream",
            "insecure_skip_tls_verify",
            False,
        ),
        (
            "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY",
            "YES",
            "upstream",
            "insecure_skip_tls_verify",
            True,
        ),
        (
            "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY",
            "1",
            "upstream",
            "insecure_skip_tls_verify",
            True,
        ),
        ("SCIM_PROXY_UPSTREAM_AUTH_SCHEME", "Basic", "upstream", "auth_scheme", AuthScheme.basic),
        ("SCIM_PROXY_UPSTREAM_TRANSPORT", "httpx", "upstream", "transport", TransportKind.httpx),
        ("SCIM_PROXY_USERS_DEACTIVATION", "delete", "users", "deactivation", Deactivation.delete),
        ("SCIM_PROXY_LOGGING_FORMAT", "console", "logging", "format", LogFormat.console),
        ("SCIM_PROXY_LOGGING_LEVEL", "warning", "logging", "level", "warning"),
    ],
)
def test_environment_overrides_each_type(
    name: str, raw: str, section: str, key: str, expected: object
) -> None:
    value = getattr(getattr(load_settings(environ={name: raw}), section), key)
    assert value == expected
    assert type(value) is type(expected)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[upstream]\nauth_scheme = "basic"\npage_size = 50\n[scim]\nmax_count = 50\n'
        "default_count = 50\n",
    )
    env = {"SCIM_PROXY_UPSTREAM_AUTH_SCHEME": "bearer", "SCIM_PROXY_UPSTREAM_PAGE_SIZE": "80"}
    settings = load_settings(path, environ=env)
    assert settings.upstream.auth_scheme is AuthScheme.bearer
    assert settings.upstream.page_size == 80
    assert settings.scim.max_count == 50


# -- errors name the setting and the fix ---------------------------------------------


def test_bad_enum_in_the_file_names_the_key_and_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, '[upstream]\nauth_scheme = "oauth"\n')
    message = config_error("upstream.auth_scheme", path=path)
    assert "token" in message
    assert "basic" in message
    assert "bearer" in message


def test_bad_enum_in_the_environment_names_the_variable() -> None:
    message = config_error(
        "SCIM_PROXY_UPSTREAM_AUTH_SCHEME", {"SCIM_PROXY_UPSTREAM_AUTH_SCHEME": "x"}
    )
    assert "token" in message


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("SCIM_PROXY_SERVER_PORT", "eighty", "whole number"),
        ("SCIM_PROXY_SERVER_PORT", "80.5", "whole number"),
        ("SCIM_PROXY_UPSTREAM_READ_TIMEOUT", "soon", "number"),
        ("SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY", "maybe", "true or false"),
        ("SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY", "", "true or false"),
        ("SCIM_PROXY_USERS_DEACTIVATION", "suspend", "disable, delete"),
    ],
)
def test_unreadable_environment_values_name_the_variable(name: str, value: str, fix: str) -> None:
    message = config_error(name, {name: value})
    assert fix in message


@pytest.mark.parametrize(
    ("name", "value", "setting", "fix"),
    [
        ("SCIM_PROXY_UPSTREAM_READ_TIMEOUT", "nan", "upstream.read_timeout", "seconds"),
        ("SCIM_PROXY_UPSTREAM_READ_TIMEOUT", "0", "upstream.read_timeout", "seconds"),
        ("SCIM_PROXY_UPSTREAM_CONNECT_TIMEOUT", "301", "upstream.connect_timeout", "seconds"),
        ("SCIM_PROXY_SERVER_PORT", "70000", "server.port", "1 to 65535"),
        ("SCIM_PROXY_SERVER_PORT", "0", "server.port", "1 to 65535"),
        ("SCIM_PROXY_UPSTREAM_PAGE_SIZE", "5000", "upstream.page_size", "1 to 1000"),
        ("SCIM_PROXY_UPSTREAM_POOL_SIZE", "0", "upstream.pool_size", "1 to 10000"),
        ("SCIM_PROXY_LOGGING_LEVEL", "loud", "logging.level", "debug"),
        ("SCIM_PROXY_SCIM_DEFAULT_COUNT", "101", "scim.default_count", "scim.max_count"),
        ("SCIM_PROXY_SCIM_FILTER_SCAN_LIMIT", "-1", "scim.filter_scan_limit", "0 to"),
    ],
)
def test_unusable_environment_values_name_the_setting(
    name: str, value: str, setting: str, fix: str
) -> None:
    message = config_error(setting, {name: value})
    assert fix in message


def test_max_count_above_page_size_is_refused() -> None:
    env = {"SCIM_PROXY_SCIM_MAX_COUNT": "200", "SCIM_PROXY_UPSTREAM_PAGE_SIZE": "100"}
    message = config_error("scim.max_count", env)
    assert "upstream.page_size" in message


@pytest.mark.parametrize(
    ("toml", "match", "fix"),
    [
        ('[server]\nport = "8080"\n', "server.port", "whole number"),
        ("[server]\nport = 8080.0\n", "server.port", "whole number"),
        ("[server]\nport = true\n", "server.port", "whole number"),
        (
            '[upstream]\ninsecure_skip_tls_verify = "yes"\n',
            "upstream.insecure_skip_tls_verify",
            "true or false",
        ),
        ('[upstream]\nread_timeout = "20"\n', "upstream.read_timeout", "number"),
        ("[upstream]\nbase_url = 5\n", "upstream.base_url", "string"),
        ('[users]\ndeactivation = "suspend"\n', "users.deactivation", "disable, delete"),
    ],
)
def test_values_of_the_wrong_type_in_the_file_are_refused(
    tmp_path: Path, toml: str, match: str, fix: str
) -> None:
    message = config_error(match, path=write(tmp_path, toml))
    assert fix in message


@pytest.mark.parametrize(
    "url",
    ["api.test", "ftp://api.test", "https://", "https://api.test?x=1", "https://api.test#x"],
)
def test_upstream_base_url_must_be_a_plain_http_url(url: str) -> None:
    message = config_error("upstream.base_url", {"SCIM_PROXY_UPSTREAM_BASE_URL": url})
    assert "https://api.telemetrytv.com" in message


@pytest.mark.parametrize("url", ["https://user:s3cret@api.test", "https://s3cret@api.test/v1"])
def test_upstream_base_url_must_not_carry_credentials(url: str) -> None:
    message = config_error("upstream.base_url", {"SCIM_PROXY_UPSTREAM_BASE_URL": url})
    assert "credentials" in message
    assert "s3cret" not in message


def test_public_base_url_must_be_an_http_url() -> None:
    message = config_error(
        "server.public_base_url", {"SCIM_PROXY_SERVER_PUBLIC_BASE_URL": "scim.test"}
    )
    assert "https://" in message


def test_unknown_key_names_the_section_and_the_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[upstream]\nbaseurl = "https://api.test"\n')
    message = config_error("baseurl", path=path)
    assert "[upstream]" in message
    assert "base_url" in message


def test_unknown_section_names_the_known_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "[telemetrytv]\ntoken = 1\n")
    message = config_error("telemetrytv", path=path)
    assert "upstream" in message


def test_a_section_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    config_error("[upstream]", path=write(tmp_path, 'upstream = "https://api.test"\n'))


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    message = config_error(str(missing), path=missing)
    assert "does not exist" in message


def test_missing_file_from_config_env_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    config_error(missing, {CONFIG_ENV: missing})


def test_missing_file_from_config_env_names_the_variable(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    config_error(CONFIG_ENV, {CONFIG_ENV: missing})


def test_invalid_toml_names_the_file_and_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "[upstream\nbase_url = \n")
    message = config_error(str(path), path=path)
    assert "not valid TOML" in message
    assert "line" in message


def test_replace_validates_the_result() -> None:
    settings = load_settings(environ=NO_ENV)
    assert settings.replace("server", port=9999).server.port == 9999
    with pytest.raises(ConfigError, match=r"server\.port"):
        settings.replace("server", port=0)


def test_a_mistyped_environment_override_is_refused() -> None:
    message = config_error("SCIM_PROXY_UPSTREAM_BASEURL", {"SCIM_PROXY_UPSTREAM_BASEURL": "x"})
    assert "config.example.toml" in message


def test_platform_variables_sharing_the_prefix_are_left_alone() -> None:
    # Kubernetes injects these for a Service named scim-proxy.
    env = {"SCIM_PROXY_PORT": "tcp://10.0.0.1:8080", "SCIM_PROXY_SERVICE_HOST": "10.0.0.1"}
    assert load_settings(environ=env) == load_settings(environ={})


def test_service_link_variables_of_other_services_are_left_alone() -> None:
    env = {
        "SCIM_PROXY_METRICS_SERVICE_HOST": "10.0.0.2",
        "SCIM_PROXY_METRICS_PORT": "tcp://10.0.0.2:80",
        "SCIM_PROXY_SERVER_PORT_80_TCP": "tcp://10.0.0.3:80",
    }
    assert load_settings(environ=env) == load_settings(environ={})


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999", "http://:80"])
def test_an_unusable_upstream_url_is_a_config_error(url: str) -> None:
    config_error("upstream.base_url", {"SCIM_PROXY_UPSTREAM_BASE_URL": url})


def test_a_refused_value_names_the_variable_that_set_it() -> None:
    environ = {"SCIM_PROXY_SCIM_MAX_COUNT": "500"}
    with pytest.raises(ConfigError) as refused:
        load_settings(environ=environ)
    message = naming_variables(str(refused.value), environ)
    assert message.startswith("scim.max_count = 500 is not valid")
    assert message.endswith("(set by SCIM_PROXY_SCIM_MAX_COUNT)")
    # A value from the file (no variable) is named by its setting only.
    assert naming_variables(str(refused.value), {}) == str(refused.value)
