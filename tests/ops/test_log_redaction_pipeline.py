"""A secret handed to a log call by mistake never reaches the output of the configured logs.

Through the real wiring: ``configure_logging`` as ``serve`` calls it, writing where it
writes (standard output, replaced by a buffer before it is configured), in both
formats. The redaction processor's own rules are tested in test_redaction_processor.py;
this holds that the pipeline runs it before anything is rendered.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest
import structlog

from scim_proxy.ops.config import LogFormat, LoggingSettings
from scim_proxy.ops.logging import REDACTED, configure_logging

SECRETS = {
    "token": "tok-5ecret-1",
    "Password": "pw-5ecret-2",
    "authorization": "Bearer tok-5ecret-3",
    "api_token": "tok-5ecret-4",
    "secret": "5ecret-5",
    "credentials": "user:5ecret-6",
    "cookie": "sid=5ecret-7",
}


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The tests' own logging configuration, back after the test."""
    yield
    configure_logging(cache=False)


@pytest.mark.parametrize("log_format", list(LogFormat))
def test_secret_named_values_are_redacted_before_the_logs_are_written(
    monkeypatch: pytest.MonkeyPatch, restored_logging: None, log_format: LogFormat
) -> None:
    # Replaced in the test itself: pytest puts its own capture back before each phase.
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    configure_logging(LoggingSettings(level="debug", format=log_format), cache=False)
    log = structlog.get_logger("scim_proxy.test")
    log.warning("upstream_call_failed", status=401, **SECRETS)
    log.bind(password="pw-5ecret-8").info("user_changed", user_id="u-1")
    written = stdout.getvalue()
    assert "upstream_call_failed" in written
    assert "user_changed" in written
    assert "u-1" in written  # values of other keys are kept
    assert REDACTED in written
    for secret in [*SECRETS.values(), "pw-5ecret-8"]:
        assert secret not in written
    assert "5ecret" not in written
