"""When tracing is on, what start-up says about it, and the standard variables honoured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from scim_proxy.ops.config import ConfigError, Settings, TracingMode, load_settings
from scim_proxy.ops.tracing import announce_tracing, start_tracing, turned_on_by
from tests.otlp_receiver import OtlpReceiver
from tests.tracing_fixtures import clean_otel_environment, running_receiver

ENDPOINT = "http://collector.example:4318"


def _mode(mode: str) -> Settings:
    return Settings().replace("tracing", mode=TracingMode(mode))


@pytest.mark.parametrize(
    ("mode", "environ", "expected"),
    [
        ("auto", {}, []),
        ("auto", {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, ["OTEL_EXPORTER_OTLP_ENDPOINT"]),
        (
            "auto",
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT + "/v1/traces"},
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"],
        ),
        ("auto", {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, []),  # a template that expanded to nothing
        ("auto", {"OTEL_SERVICE_NAME": "x"}, []),  # other variables alone do not turn it on
        ("on", {}, ["tracing.mode"]),
        ("off", {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, []),
        ("auto", {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"}, []),
        ("on", {"OTEL_SDK_DISABLED": "TRUE"}, []),
    ],
)
def test_what_turns_tracing_on(mode: str, environ: dict[str, str], expected: list[str]) -> None:
    assert turned_on_by(_mode(mode), environ) == expected


def test_the_mode_is_a_setting_of_its_own_section() -> None:
    assert Settings().tracing.mode is TracingMode.auto
    settings = load_settings(environ={"SCIM_PROXY_TRACING_MODE": "off"})
    assert settings.tracing.mode is TracingMode.off
    with pytest.raises(ConfigError, match="SCIM_PROXY_TRACING_MODE = 'yes' is not valid"):
        load_settings(environ={"SCIM_PROXY_TRACING_MODE": "yes"})
    with pytest.raises(ConfigError, match=r"tracing\.flush_seconds = 0"):
        Settings().replace("tracing", flush_seconds=0)


def test_off_by_default_nothing_is_started_nor_said(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_otel_environment(monkeypatch, None)
    with capture_logs() as logs:
        announce_tracing(Settings())
        assert start_tracing(Settings()) is None
    assert logs == []


def test_start_up_names_what_turned_tracing_on_and_never_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean_otel_environment(monkeypatch, ENDPOINT)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=secret-key-123")
    with capture_logs() as logs:
        announce_tracing(Settings())
    assert logs == [
        {
            "event": "tracing_on",
            "log_level": "info",
            "turned_on_by": ["OTEL_EXPORTER_OTLP_ENDPOINT"],
            "otel_variables": ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS"],
        }
    ]


def test_a_grpc_protocol_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_otel_environment(monkeypatch, "http://collector:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with capture_logs() as logs:
        announce_tracing(Settings())
    assert [e["event"] for e in logs] == ["tracing_on", "tracing_protocol_ignored"]
    assert "4318" in logs[1]["detail"]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A local OTLP/HTTP receiver, stopped at the end."""
    yield from running_receiver()


def test_the_standard_variables_reach_the_exported_spans(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver
) -> None:
    clean_otel_environment(monkeypatch, None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{receiver.endpoint}/custom")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "scim-edge")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=abc")
    tracing = start_tracing(Settings())
    assert tracing is not None
    assert tracing.service_name == "scim-edge"
    tracing.start("probe").end()
    assert tracing.force_flush()
    assert tracing.close()
    [span] = receiver.spans()
    assert receiver.paths == ["/custom"]
    assert span.resource["service.name"] == "scim-edge"
    assert span.resource["deployment.environment"] == "staging"
    assert receiver.headers[0]["x-collector-key"] == "abc"


def test_the_sampler_variable_is_honoured(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver
) -> None:
    clean_otel_environment(monkeypatch, receiver.endpoint)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    tracing = start_tracing(Settings())
    assert tracing is not None
    tracing.start("never sampled").end()
    assert tracing.force_flush()
    assert tracing.close()
    assert receiver.spans() == []


def test_the_default_service_name_is_scim_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_otel_environment(monkeypatch, ENDPOINT)
    tracing = start_tracing(Settings())
    assert tracing is not None
    assert tracing.service_name == "scim-proxy"
    tracing.close()


def test_with_the_sdk_disabled_there_is_no_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_otel_environment(monkeypatch, None)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert start_tracing(_mode("on")) is None
