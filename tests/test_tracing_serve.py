"""``scim-proxy serve`` with the OTEL variables set: as real processes, with and without
the ``otel`` extra, one process and several workers; spans leave at shutdown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.otlp_receiver import OtlpReceiver
from tests.processes import free_port, start, stop, wait_until_up
from tests.tracing_fixtures import SERVER, running_receiver

TOKEN = "tracing-serve-token"

# Imported first by the interpreter (PYTHONPATH): every import of opentelemetry fails as
# it does where the extra was not installed.
BLOCKER = """
import sys


class _NoOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoOpenTelemetry())
"""


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A local OTLP/HTTP receiver, stopped at the end."""
    yield from running_receiver()


@pytest.fixture
def simulator() -> Iterator[str]:
    """The TelemetryTV simulator as a process; its URL."""
    port = free_port()
    process = start("simulator", "--port", str(port), "--token", TOKEN, "--users", "3")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/users", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def _otel_free_environment(endpoint: str, **extra: str) -> dict[str, str]:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, **extra}


def _serve(
    upstream: str, environ: dict[str, str], *flags: str
) -> tuple[str, list[dict[str, object]]]:
    """Serve, send two GETs, stop: the proxy's URL and the JSON events it logged."""
    port = free_port()
    proxy = start("serve", "--port", str(port), "--upstream", upstream, *flags, env=environ)
    answers = []
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proxy)
        for _ in range(2):
            answer = httpx.get(
                f"http://127.0.0.1:{port}/scim/v2/Users?count=1",
                headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
                timeout=10,
            )
            answers.append(answer.status_code)
    finally:
        output = stop(proxy)
    assert answers == [200, 200], output
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return output, events


def test_without_the_extra_one_warning_and_nothing_else_changes(
    tmp_path: Path, receiver: OtlpReceiver, simulator: str
) -> None:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    environ = _otel_free_environment(receiver.endpoint, PYTHONPATH=str(tmp_path))
    output, events = _serve(simulator, environ, "--workers", "2")
    warnings = [e for e in events if e["event"] == "tracing_unavailable"]
    assert len(warnings) == 1, output  # the supervisor's, not one per worker
    assert "scim-proxy[otel]" in str(warnings[0]["detail"])
    assert warnings[0]["turned_on_by"] == ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    requests = [e for e in events if e["event"] == "request" and e["route"] != "/healthz"]
    assert len(requests) == 2
    assert all("trace_id" not in e for e in requests)
    assert "Traceback" not in output
    assert receiver.bodies == []


def test_a_served_request_is_exported_when_the_process_stops(
    receiver: OtlpReceiver, simulator: str
) -> None:
    # The batch processor would wait ten minutes: only the shutdown's flush sends them.
    environ = _otel_free_environment(receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="600000")
    output, events = _serve(simulator, environ)
    [announced] = [e for e in events if e["event"] == "tracing_on"]
    assert announced["turned_on_by"] == ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    requests = [e for e in events if e["event"] == "request" and e["route"] != "/healthz"]
    servers = [s for s in receiver.spans() if s.kind == SERVER]
    assert sorted(s.trace_id for s in servers) == sorted(str(e["trace_id"]) for e in requests)
    assert {s.name for s in servers} == {"GET /scim/v2/Users"}
    assert len(receiver.named("GET /users")) == 2, output


def test_each_worker_flushes_its_own_spans(receiver: OtlpReceiver, simulator: str) -> None:
    environ = _otel_free_environment(receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="600000")
    output, events = _serve(simulator, environ, "--workers", "2")
    assert len([e for e in events if e["event"] == "tracing_on"]) == 1, output
    requests = [e for e in events if e["event"] == "request" and e["route"] != "/healthz"]
    servers = [s for s in receiver.spans() if s.kind == SERVER]
    assert sorted(s.trace_id for s in servers) == sorted(str(e["trace_id"]) for e in requests)
    assert len(servers) == 2, output
