"""``[groups] coordination`` and its Redis settings: the mode in force, and what is refused."""

from __future__ import annotations

import pytest

from scim_proxy.ops.config import (
    ConfigError,
    Coordination,
    Settings,
    coordination_mode,
    load_settings,
    redis_url_for_logs,
)


def test_auto_means_redis_with_a_redis_url_and_verify_without() -> None:
    assert coordination_mode(Settings()) is Coordination.verify
    with_redis = load_settings(environ={"SCIM_PROXY_GROUPS_REDIS_URL": "redis://redis:6379/0"})
    assert coordination_mode(with_redis) is Coordination.redis


def test_the_mode_is_read_from_the_environment() -> None:
    settings = load_settings(environ={"SCIM_PROXY_GROUPS_COORDINATION": "process"})
    assert coordination_mode(settings) is Coordination.process


def test_redis_without_a_url_is_refused_naming_both_settings() -> None:
    with pytest.raises(ConfigError, match=r"groups.coordination = redis needs groups.redis_url"):
        load_settings(environ={"SCIM_PROXY_GROUPS_COORDINATION": "redis"})


def test_a_bad_redis_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ConfigError, match=r"groups\.redis_url") as raised:
        load_settings(environ={"SCIM_PROXY_GROUPS_REDIS_URL": "http://:s3cret@redis:6379"})
    assert "s3cret" not in str(raised.value)


def test_the_redis_url_is_not_in_the_settings_repr() -> None:
    settings = Settings().replace("groups", redis_url="redis://:s3cret@redis:6379/0")
    assert "s3cret" not in repr(settings)


def test_process_mode_is_refused_with_several_workers() -> None:
    with pytest.raises(ConfigError, match=r"groups.coordination = process .* server.workers = 3"):
        Settings().replace("groups", coordination=Coordination.process).replace("server", workers=3)


def test_a_lock_shorter_than_one_upstream_write_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"groups.lock_seconds = 20"):
        Settings().replace("groups", lock_seconds=20.0)
    shorter = Settings().replace("upstream", connect_timeout=1.0, read_timeout=1.0)
    assert shorter.replace("groups", lock_seconds=3.0).groups.lock_seconds == 3.0


CANARY = "c4nary-pw"


def test_a_redis_password_in_the_userinfo_or_the_query_is_never_echoed() -> None:
    for url in (
        f"http://user:{CANARY}@redis:6379/0?password={CANARY}",
        f"ftp://redis:6379/0?password={CANARY}&username=u",
    ):
        with pytest.raises(ConfigError, match=r"groups\.redis_url") as raised:
            load_settings(environ={"SCIM_PROXY_GROUPS_REDIS_URL": url})
        assert CANARY not in str(raised.value)
        assert "redis:6379/0" in str(raised.value)


def test_a_redis_url_is_shown_as_scheme_host_port_and_database_only() -> None:
    assert (
        redis_url_for_logs(f"rediss://u:{CANARY}@redis.internal:6380/2?password={CANARY}#x")
        == "rediss://redis.internal:6380/2"
    )
    assert redis_url_for_logs(f"redis://[::1]/0?password={CANARY}") == "redis://[::1]/0"
    assert redis_url_for_logs(f"unix:///run/redis.sock?password={CANARY}") == (
        "unix:///run/redis.sock"
    )
    assert redis_url_for_logs("") == ""
