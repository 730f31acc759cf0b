"""The start-up event names what the proxy runs with, and never a secret."""

from __future__ import annotations

import io

from structlog.testing import capture_logs

from scim_proxy import __version__
from scim_proxy.ops.config import load_settings
from scim_proxy.ops.lifecycle import config_source, log_startup
from scim_proxy.ops.logging import use_colour
from scim_proxy.ops.redaction import url_without_credentials

SECRETS = ("scrape-s3cret", "fp-s3cret", "hunter2", "alice")


def test_credentials_in_a_url_are_dropped_before_logging() -> None:
    assert (
        url_without_credentials("https://alice:hunter2@tv.example.com:8443/api")
        == "https://tv.example.com:8443/api"
    )
    assert url_without_credentials("https://tv.example.com/api") == "https://tv.example.com/api"
    assert url_without_credentials("http://token@[::1]:81/x") == "http://[::1]:81/x"
    assert url_without_credentials("") == ""


def test_the_startup_event_names_the_settings_in_force_and_no_secret() -> None:
    environ = {
        "SCIM_PROXY_UPSTREAM_BASE_URL": "https://tv.example.com",
        "SCIM_PROXY_METRICS_TOKEN": "scrape-s3cret",
        "SCIM_PROXY_LOGGING_FINGERPRINT_KEY": "fp-s3cret",
        "SCIM_PROXY_USERS_DEACTIVATION": "delete",
        "SCIM_PROXY_UPSTREAM_AUTH_SCHEME": "basic",
        "HOME": "/root",
    }
    settings = load_settings(environ=environ)
    with capture_logs() as logs:
        log_startup(settings, config_source(None, environ, ["--port"]))
    [event] = [e for e in logs if e["event"] == "startup"]
    assert event["event"] == "startup"
    assert event["version"] == __version__
    assert event["listen"] == "127.0.0.1:8080"
    assert event["workers"] == 1
    assert event["upstream_base_url"] == "https://tv.example.com"
    assert event["upstream_auth_scheme"] == "basic"
    assert event["deactivation"] == "delete"
    assert event["membership_coordination"] == "verify"
    assert event["public_base_url"] == "derived per request"
    assert event["metrics"] == "on, behind a scrape token"
    assert event["config_file"] is None
    assert event["config_flags"] == ["--port"]
    assert "SCIM_PROXY_METRICS_TOKEN" in event["config_env_overrides"]
    assert "HOME" not in event["config_env_overrides"]
    text = repr(event)
    for secret in SECRETS:
        assert secret not in text


def test_the_startup_event_shows_no_redis_password_from_the_userinfo_or_the_query() -> None:
    canary = "c4nary-pw"
    environ = {
        "SCIM_PROXY_GROUPS_REDIS_URL": f"redis://u:{canary}@redis:6379/0?password={canary}",
    }
    with capture_logs() as logs:
        log_startup(load_settings(environ=environ), config_source(None, environ))
    [event] = logs
    assert event["membership_coordination"] == "redis"
    assert event["membership_redis_url"] == "redis://redis:6379/0"
    assert canary not in repr(event)


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_console_colours_only_on_a_terminal_and_never_with_no_color() -> None:
    assert use_colour(_Stream(tty=True), {}) is True
    assert use_colour(_Stream(tty=False), {}) is False
    assert use_colour(_Stream(tty=True), {"NO_COLOR": "1"}) is False
    assert use_colour(_Stream(tty=True), {"NO_COLOR": ""}) is True


def test_listening_beyond_loopback_without_a_public_base_url_warns_once() -> None:
    # Locations would echo each request's Host header, e.g. Host: evil.example:666.
    for host in ("0.0.0.0", "::", "10.1.2.3", "scim.internal"):  # noqa: S104
        settings = load_settings(environ={"SCIM_PROXY_SERVER_HOST": host})
        with capture_logs() as logs:
            log_startup(settings, config_source(None, {}))
        warnings = [e for e in logs if e["event"] == "public_base_url_unset"]
        assert len(warnings) == 1, host
        [warning] = warnings
        assert warning["log_level"] == "warning"
        assert "server.public_base_url" in warning["detail"]
        assert warning["listen"] == f"{host}:8080"
    quiet = [
        {"SCIM_PROXY_SERVER_HOST": "127.0.0.1"},
        {"SCIM_PROXY_SERVER_HOST": "::1"},
        {"SCIM_PROXY_SERVER_HOST": "localhost"},
        {
            "SCIM_PROXY_SERVER_HOST": "0.0.0.0",  # noqa: S104
            "SCIM_PROXY_SERVER_PUBLIC_BASE_URL": "https://scim.example.com/scim/v2",
        },
    ]
    for environ in quiet:
        with capture_logs() as logs:
            log_startup(load_settings(environ=environ), config_source(None, environ))
        assert [e for e in logs if e["event"] == "public_base_url_unset"] == [], environ


def test_tls_verification_is_reported_only_for_an_https_upstream() -> None:
    cases = [
        ({"SCIM_PROXY_UPSTREAM_BASE_URL": "https://tv.example.com"}, True),
        (
            {
                "SCIM_PROXY_UPSTREAM_BASE_URL": "https://tv.example.com",
                "SCIM_PROXY_UPSTREAM_INSECURE_SKIP_TLS_VERIFY": "true",
            },
            False,
        ),
        # Plain HTTP has no certificate to verify: neither true nor false is right.
        ({"SCIM_PROXY_UPSTREAM_BASE_URL": "http://127.0.0.1:8081"}, None),
        ({"SCIM_PROXY_UPSTREAM_BASE_URL": "HTTP://127.0.0.1:8081"}, None),
    ]
    for environ, verified in cases:
        with capture_logs() as logs:
            log_startup(load_settings(environ=environ), config_source(None, environ))
        [event] = [e for e in logs if e["event"] == "startup"]
        assert event["upstream_tls_verified"] is verified, environ


def _coordination_warnings(environ: dict[str, str]) -> list[dict[str, object]]:
    with capture_logs() as logs:
        log_startup(load_settings(environ=environ), config_source(None, environ))
    return [e for e in logs if e["event"] == "membership_writes_wait"]


def test_verify_coordination_warns_once_at_start_up_how_to_avoid_the_wait() -> None:
    [warning] = _coordination_warnings({})  # one worker, no Redis: auto picks verify
    assert warning["log_level"] == "warning"
    assert warning["membership_coordination"] == "verify"
    assert warning["settle_seconds"] == 1.0
    detail = str(warning["detail"])
    assert "groups.settle_seconds" in detail
    assert "(1 s)" in detail
    assert "no groups.redis_url" in detail
    assert "groups.redis_url" in detail
    assert 'groups.coordination = "process"' in detail
    assert "exactly one" in detail
    # Several workers cannot use process coordination: only Redis is offered.
    [workers] = _coordination_warnings(
        {"SCIM_PROXY_SERVER_WORKERS": "2", "SCIM_PROXY_GROUPS_SETTLE_SECONDS": "0.5"}
    )
    assert "(0.5 s)" in str(workers["detail"])
    assert "groups.redis_url" in str(workers["detail"])
    assert 'coordination = "process"' not in str(workers["detail"])


def test_no_coordination_warning_with_redis_or_process_coordination() -> None:
    assert _coordination_warnings({"SCIM_PROXY_GROUPS_REDIS_URL": "redis://r:6379/0"}) == []
    assert _coordination_warnings({"SCIM_PROXY_GROUPS_COORDINATION": "process"}) == []
    [chosen] = _coordination_warnings({"SCIM_PROXY_GROUPS_COORDINATION": "verify"})
    assert "groups.coordination = verify" in str(chosen["detail"])
