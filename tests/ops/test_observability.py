"""One outcome event per request with every documented field; metrics; probes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.ops.config import Settings
from tests.conftest import BASE, TOKEN, fixture

pytestmark = pytest.mark.anyio

OUTCOME_FIELDS = {
    "request_id",
    "method",
    "route",
    "resource",
    "operation",
    "status",
    "scim_type",
    "duration_ms",
    "upstream_calls",
    "upstream_retries",
    "upstream_ms",
    "token_fingerprint",
    "auth_scheme",
    "idp",
    "quirks",
}
UPSTREAM_FIELDS = {
    "request_id",
    "method",
    "path",
    "status",
    "attempt",
    "duration_ms",
    "wait_before_ms",
    "retry_after_honoured",
}


async def test_every_request_emits_one_outcome_event_with_every_field(
    client: httpx.AsyncClient,
) -> None:
    requests: list[Callable[[], object]] = [
        lambda: client.get("/Users?count=2"),
        lambda: client.post("/Users", json=fixture("okta/create-user")),
        lambda: client.post("/Users", json=fixture("okta/create-user")),  # 409
        lambda: client.get("/Users/010101001010101011001010101011"),  # 404
        lambda: client.get("/Users", headers={"Authorization": "non-token"}),  # 401
        lambda: client.get("/Nope"),
    ]
    for make in requests:
        with capture_logs() as logs:
            response = await make()  # type: ignore[misc]
        outcomes = [e for e in logs if e["event"] == "request"]
        assert len(outcomes) == 1
        outcome = outcomes[0]
        assert set(outcome) >= OUTCOME_FIELDS, OUTCOME_FIELDS - set(outcome)
        assert outcome["status"] == response.status_code
        assert response.headers["x-request-id"] == outcome["request_id"]
        for event in (e for e in logs if e["event"] == "upstream_call"):
            assert set(event) >= UPSTREAM_FIELDS
            assert event["request_id"] == outcome["request_id"]
        level = {2: "info", 4: "warning", 5: "error"}[response.status_code // 100]
        assert outcome["log_level"] == level


async def test_successful_calls_are_summed_in_the_request_event_failed_ones_logged(
    client: httpx.AsyncClient,
) -> None:
    user_id = (await client.get("/Users?count=1")).json()["Resources"][0]["id"]
    with capture_logs() as logs:
        await client.get(f"/Users/{user_id}")
    assert [e["event"] for e in logs] == ["request"]
    assert logs[0]["upstream_calls"] == 1
    assert logs[0]["upstream_ms"] > 0
    with capture_logs() as logs:
        await client.get("/Users/010101001010101011001010101011")  # upstream 404
    attempts = [e for e in logs if e["event"] == "upstream_call"]
    assert [(e["status"], e["attempt"]) for e in attempts] == [(404, 1)]
    assert set(attempts[0]) >= UPSTREAM_FIELDS


async def test_a_sent_request_id_is_echoed_and_logged(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        response = await client.get("/Users?count=1", headers={"X-Request-ID": "okta-req-42"})
    assert response.headers["x-request-id"] == "okta-req-42"
    assert {e["request_id"] for e in logs if "request_id" in e} == {"okta-req-42"}
    with capture_logs() as logs:
        traced = await client.get(
            "/Users?count=1",
            headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        )
    assert traced.headers["x-request-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_the_outcome_names_the_route_idp_and_token_but_not_the_token(
    client: httpx.AsyncClient,
) -> None:
    user_id = (await client.get("/Users?count=1")).json()["Resources"][0]["id"]
    with capture_logs() as logs:
        await client.get(f"/Users/{user_id}")
    outcome = next(e for e in logs if e["event"] == "request")
    assert outcome["route"] == "/scim/v2/Users/{user_id}"
    assert outcome["idp"] == "okta"
    assert len(outcome["token_fingerprint"]) == 16
    assert TOKEN not in str(logs)
    with capture_logs() as again:
        await client.get(f"/Users/{user_id}")
    assert (
        next(e for e in again if e["event"] == "request")["token_fingerprint"]
        == (outcome["token_fingerprint"])
    )


async def test_default_logs_carry_no_email_name_or_password(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        created = await client.post("/Users", json=fixture("okta/create-user"))
        user_id = created.json()["id"]
        await client.get('/Users?filter=userName eq "ana.lima@example.com"')
        await client.put(f"/Users/{user_id}", json=fixture("okta/put-sync-password", id=user_id))
        await client.put(
            f"/Users/{user_id}", json=fixture("okta/put-change-username-only", id=user_id)
        )
    text = str(logs)
    for personal in (
        "ana.lima@example.com",
        "alima@example.com",
        "Lima",
        "tmpX9q2k!Okta",
        "n3w-Secret!pw",
    ):
        assert personal not in text, personal


async def test_metrics_parse_and_move_with_traffic(client: httpx.AsyncClient) -> None:
    def requests_total(text: str) -> float:
        for family in text_string_to_metric_families(text):
            if family.name == "scim_proxy_requests":
                return sum(
                    s.value
                    for s in family.samples
                    if s.name.endswith("_total") and s.labels.get("resource") == "User"
                )
        return 0.0

    before = requests_total((await client.get("http://proxy.test/metrics")).text)
    for _ in range(3):
        await client.get("/Users?count=1")
    after = (await client.get("http://proxy.test/metrics")).text
    assert requests_total(after) == before + 3
    names = {f.name for f in text_string_to_metric_families(after)}
    for expected in (
        "scim_proxy_request_duration_seconds",
        "scim_proxy_upstream_calls",
        "scim_proxy_upstream_call_duration_seconds",
        "scim_proxy_requests_in_flight",
    ):
        assert expected in names


async def test_readyz_fails_when_telemetrytv_cannot_be_reached(client: httpx.AsyncClient) -> None:
    # The test upstream's host does not resolve: not ready, with the reason.
    response = await client.get("http://proxy.test/readyz")
    assert response.status_code == 503
    assert "cannot reach" in response.json()["checks"]["telemetrytv"]
    assert (await client.get("http://proxy.test/healthz")).status_code == 200


PROBES = ("/healthz", "/readyz", "/metrics")


def _requests_counted(text: str) -> float:
    """Every request the metrics counted, whatever its resource (probes have none)."""
    for family in text_string_to_metric_families(text):
        if family.name == "scim_proxy_requests":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return 0.0


async def _probe_events(settings: Settings) -> tuple[list[dict[str, object]], float]:
    """The request events of one hit on each probe, at debug level; what metrics counted."""
    app = create_app(settings.replace("upstream", base_url="http://127.0.0.1:9"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
    ) as http:
        before = _requests_counted((await http.get("/metrics")).text)
        with capture_logs() as logs:
            for path in PROBES:
                await http.get(path)
        after = _requests_counted((await http.get("/metrics")).text)
    return [e for e in logs if e["event"] == "request"], after - before


@pytest.mark.usefixtures("debug_logs")
async def test_probes_and_scrapes_are_logged_at_debug_by_default_and_still_counted() -> None:
    events, counted = await _probe_events(Settings())
    levels = {str(e["route"]): e["log_level"] for e in events}
    # A passing probe or scrape is debug (hidden at the default level); a failing
    # readiness check (nothing listens on port 9) keeps its error level.
    assert levels == {"/healthz": "debug", "/readyz": "error", "/metrics": "debug"}
    assert counted == 1 + len(PROBES)  # the first /metrics, then the three


@pytest.mark.usefixtures("debug_logs")
async def test_log_probes_logs_them_at_info() -> None:
    events, _ = await _probe_events(Settings().replace("logging", log_probes=True))
    levels = {str(e["route"]): e["log_level"] for e in events}
    assert levels == {"/healthz": "info", "/readyz": "error", "/metrics": "info"}


async def test_a_failing_readiness_check_logs_its_cause() -> None:
    app = create_app(Settings().replace("upstream", base_url="http://127.0.0.1:9"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
    ) as http:
        with capture_logs() as logs:
            response = await http.get("/readyz")
    assert response.status_code == 503
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["log_level"] == "error"
    assert event["reason"] == "telemetrytv_unreachable"
    assert "127.0.0.1:9" in str(event["detail"])
    assert "connection refused" in str(event["detail"])
    assert event["detail"] == response.json()["checks"]["telemetrytv"]


async def test_a_scim_request_is_still_logged_at_info() -> None:
    app = create_app(Settings().replace("upstream", base_url="http://127.0.0.1:9"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        with capture_logs() as logs:
            await http.get("/ServiceProviderConfig")
    [event] = [e for e in logs if e["event"] == "request"]
    assert event["log_level"] == "info"
