"""A collector that is down, or that hangs, changes no SCIM answer and holds no request.

The same requests go to a proxy without tracing and to traced proxies exporting to a
closed port and to a collector that accepts every export and never answers, all in front
of one simulator. Answers must be the same. For the hanging collector the proof is
logical, not a stopwatch: an export is first made to hang in the collector, then every
request is sent and answered while that export is still held (the exporter's one thread
is still waiting), so no request waited for the exporter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.pipeline import ProxyApp
from scim_proxy.ops.config import Settings
from scim_proxy.simulator import SimulatorStore
from tests.otlp_receiver import OtlpReceiver
from tests.processes import free_port
from tests.tracing_fixtures import (
    clean_otel_environment,
    client_of,
    running_receiver,
    start,
    traced_app,
    traced_settings,
)

pytestmark = pytest.mark.anyio

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_VARYING = {"x-request-id", "date", "content-length"}


@pytest.fixture
def hanging() -> Iterator[OtlpReceiver]:
    """A collector that takes each export and never answers."""
    yield from running_receiver(hang=True)


def _requests(store: SimulatorStore) -> list[tuple[str, str, object]]:
    """Reads, refusals and idempotent writes: answers that do not depend on when they run."""
    users, _ = store.list_users(page=1, per_page=10)
    user = next(u for u in users if u["id"] != store.owner_id)
    group_id = store.list_groups(page=1, per_page=10)[0][0]["id"]
    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    return [
        ("GET", f"/Users/{user['id']}", None),
        ("GET", f'/Users?filter=userName eq "{user["email"]}"', None),
        ("GET", "/Users?startIndex=1&count=2", None),
        ("GET", f"/Groups/{group_id}", None),
        ("GET", "/Users/0000000000000000000000ff", None),
        ("GET", "/Nothing", None),
        ("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
        ("PATCH", f"/Users/{user['id']}", deactivate),
        ("GET", "/ServiceProviderConfig", None),
    ]


async def _answers(app: ProxyApp, requests: list[tuple[str, str, object]]) -> list[object]:
    answers: list[object] = []
    async for http in client_of(app):
        for method, path, body in requests:
            response = await http.request(method, path, json=body)
            answers.append(_comparable(response))
        answers.append(_comparable(await http.get("/Users", headers={"Authorization": ""})))
    return answers


def _timeless(value: object) -> object:
    """``value`` without any ``lastModified`` (every write moves it)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "lastModified"}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _comparable(response: httpx.Response) -> object:
    """Status, headers (but the request id, date and length) and body, times taken out."""
    body = _timeless(response.json())
    headers = sorted((k, v) for k, v in response.headers.items() if k not in _VARYING)
    return response.status_code, headers, body


async def test_a_dead_or_hanging_collector_changes_no_answer_and_holds_no_request(
    monkeypatch: pytest.MonkeyPatch,
    hanging: OtlpReceiver,
    settings: Settings,
    simulator: ASGIApp,
    store: SimulatorStore,
) -> None:
    requests = _requests(store)
    settings = traced_settings(settings)
    clean_otel_environment(monkeypatch, None)
    untraced = traced_app(settings, simulator, None)
    await _answers(untraced, requests)  # once, so its write is in place for every run after
    expected = await _answers(untraced, requests)
    await untraced.aclose()
    assert [a[0] for a in expected] == [200, 200, 200, 200, 404, 404, 400, 200, 200, 401]  # type: ignore[index]

    # Down: nothing listens on the port.
    clean_otel_environment(monkeypatch, f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # its retries give up sooner
    dead = start(settings)
    app = traced_app(settings, simulator, dead)
    assert await _answers(app, requests) == expected
    assert dead.force_flush()  # the export fails; the flush still returns
    await app.aclose()
    assert dead._closing is not None
    assert dead._closing.wait(60)

    # Hanging: an export is held first, then every request is answered while it is.
    clean_otel_environment(monkeypatch, hanging.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "600")  # the exporter keeps waiting
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")  # soon full: spans are dropped
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1")
    stuck = start(settings)
    app = traced_app(settings, simulator, stuck)
    async for http in client_of(app):
        assert (await http.get("/ServiceProviderConfig")).status_code == 200
    exporting = threading.Thread(target=stuck.force_flush, daemon=True)
    exporting.start()
    assert hanging.held.wait(timeout=60), "the export never reached the collector"
    with capture_logs() as logs:
        assert await _answers(app, requests) == expected
    # Dozens of spans were dropped; the SDK's complaint is one event, not one per span.
    complaints = [e for e in logs if e["event"] == "tracing_sdk_message"]
    assert len(complaints) == 1, complaints
    assert "full" in complaints[0]["message"].lower()  # the queue's: the words vary by release
    # Every answer came while the collector still held the export and the exporter still
    # waited for it: the requests did not wait for the exporter.
    assert hanging.holding == 1
    assert exporting.is_alive()
    # Shutting down gives up on the hung collector after tracing.flush_seconds, and says so.
    with capture_logs() as logs:
        await app.aclose()
    assert [e["event"] for e in logs].count("trace_flush_incomplete") == 1
    assert exporting.is_alive()
    assert hanging.holding == 1
    # Let the collector answer, so no exporter thread outlives the test (and logs into
    # another test's captured events).
    hanging.answer_from_now()
    exporting.join(timeout=60)
    assert not exporting.is_alive()
    assert stuck._closing is not None
    assert stuck._closing.wait(60)
