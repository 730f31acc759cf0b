"""``scim-proxy demo``'s settings: one process in front of its own simulator, whatever a
configuration file asks for (the demo itself runs as a process in tests/test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scim_proxy.demo import demo_settings
from scim_proxy.ops.config import Coordination, LogFormat

SIMULATOR = "http://127.0.0.1:8081"


def test_a_file_asking_for_workers_gets_one_process_and_a_note(tmp_path: Path) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text(
        '[server]\nworkers = 4\n[groups]\ncoordination = "redis"\nredis_url = "redis://r:6379/0"\n'
        "[roles]\nenabled = false\n"
    )
    settings, notes = demo_settings(str(config), "127.0.0.1", 8080, SIMULATOR)
    assert settings.server.workers == 1
    assert settings.groups.coordination == Coordination.process
    assert settings.upstream.base_url == SIMULATOR
    assert settings.logging.format is LogFormat.console
    assert settings.roles.enabled is False  # the rest of the file still applies
    assert notes == [
        "server.workers = 4 from the configuration is ignored: the demo runs one process",
        'groups.coordination = "redis" from the configuration is ignored: the demo '
        "coordinates memberships with its own process's locks (process)",
        'groups.redis_url = "redis://r:6379/0" from the configuration is ignored: the demo '
        "coordinates memberships with its own process's locks, without Redis",
    ]


def test_the_demo_names_every_setting_of_the_file_it_overrides(tmp_path: Path) -> None:
    config = tmp_path / "production.toml"
    config.write_text(
        '[server]\nhost = "0.0.0.0"\nport = 9000\n'
        '[upstream]\nbase_url = "https://api.telemetrytv.com"\n'
        '[logging]\nformat = "json"\n'
        '[groups]\nredis_url = "redis://:pw@redis:6379/0"\n'
    )
    settings, notes = demo_settings(str(config), "127.0.0.1", 8080, SIMULATOR, environ={})
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.groups.redis_url == ""
    assert notes == [
        'server.host = "0.0.0.0" from the configuration is ignored: the demo listens on '
        "127.0.0.1:8080 (--host, --port)",
        "server.port = 9000 from the configuration is ignored: the demo listens on "
        "127.0.0.1:8080 (--host, --port)",
        'upstream.base_url = "https://api.telemetrytv.com" from the configuration is ignored: '
        f"the demo's proxy calls its own simulator, {SIMULATOR}",
        'logging.format = "json" from the configuration is ignored: the demo logs in the '
        "console format",
        'groups.redis_url = "redis://redis:6379/0" from the configuration is ignored: the '
        "demo coordinates memberships with its own process's locks, without Redis",
    ]
    assert "pw@" not in repr(notes)


def test_a_setting_from_the_environment_is_named_by_its_variable() -> None:
    environ = {"SCIM_PROXY_SERVER_PORT": "9000", "SCIM_PROXY_LOGGING_FORMAT": "console"}
    _, notes = demo_settings(None, "127.0.0.1", 8080, SIMULATOR, environ=environ)
    # The console format is what the demo uses anyway: nothing overridden there.
    assert notes == [
        "server.port = 9000 from SCIM_PROXY_SERVER_PORT is ignored: the demo listens on "
        "127.0.0.1:8080 (--host, --port)"
    ]


def test_a_file_that_agrees_with_the_demo_gets_no_note(tmp_path: Path) -> None:
    config = tmp_path / "agrees.toml"
    config.write_text(
        '[server]\nhost = "127.0.0.1"\nport = 8080\nworkers = 1\n'
        '[logging]\nformat = "console"\n[groups]\ncoordination = "process"\n'
    )
    _, notes = demo_settings(str(config), "127.0.0.1", 8080, SIMULATOR, environ={})
    assert notes == []


def test_workers_from_the_environment_are_overridden_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCIM_PROXY_CONFIG", raising=False)
    monkeypatch.setenv("SCIM_PROXY_SERVER_WORKERS", "2")
    settings, notes = demo_settings(None, "127.0.0.1", 8080, SIMULATOR)
    assert settings.server.workers == 1
    assert len(notes) == 1


def test_no_note_when_nothing_asked_for_more_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCIM_PROXY_SERVER_WORKERS", raising=False)
    monkeypatch.delenv("SCIM_PROXY_CONFIG", raising=False)
    settings, notes = demo_settings(None, "0.0.0.0", 9090, SIMULATOR)  # noqa: S104
    assert (settings.server.host, settings.server.port, settings.server.workers) == (
        "0.0.0.0",  # noqa: S104
        9090,
        1,
    )
    assert notes == []
