"""OpenTelemetry traces of the whole app, exported over OTLP/HTTP to a local receiver.

Tracing is started as ``serve`` starts it (``start_tracing``, from the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``), the app runs against the simulator in-process, and what
the receiver got is decoded with opentelemetry-proto's message classes.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote, quote_plus

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp
from structlog.testing import capture_logs

from scim_proxy.http.app import create_app
from scim_proxy.http.pipeline import ProxyApp
from scim_proxy.ops.config import Coordination, Settings, TransportKind
from scim_proxy.ops.spans import Tracing
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from tests.conftest import TOKEN
from tests.otlp_receiver import OtlpReceiver
from tests.redis_server import RedisServer
from tests.tracing_fixtures import (
    CLIENT,
    INTERNAL,
    SERVER,
    STATUS_ERROR,
    HeaderRecorder,
    clean_otel_environment,
    client_of,
    running_receiver,
    start,
    traced_app,
    traced_settings,
)

pytestmark = pytest.mark.anyio

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
INBOUND_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INBOUND_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """A few users; the canary test also creates its own."""
    return SimulatorSettings(token=TOKEN, users=3)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A local OTLP/HTTP receiver, stopped at the end."""
    yield from running_receiver()


@pytest.fixture
def upstream(simulator: ASGIApp) -> HeaderRecorder:
    """The simulator, keeping the headers of every call it gets."""
    return HeaderRecorder(simulator)


@pytest.fixture
def tracing(monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver, settings: Settings) -> Tracing:
    """The tracer, exporting to the receiver (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    clean_otel_environment(monkeypatch, receiver.endpoint)
    return start(traced_settings(settings))


@pytest.fixture
def app(settings: Settings, upstream: HeaderRecorder, tracing: Tracing) -> ProxyApp:
    """The traced proxy in front of the (recorded) simulator."""
    return traced_app(traced_settings(settings), upstream, tracing)


@pytest.fixture
async def client(app: ProxyApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the traced proxy; the app is shut down afterwards (spans flushed)."""
    async for http in client_of(app):
        yield http
    await app.aclose()


def _parent(headers: dict[str, str]) -> tuple[str, str, bool]:
    """A W3C ``traceparent``'s trace id, parent span id and sampled flag."""
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert version == "00"
    return trace_id, span_id, bool(int(flags, 16) & 1)


def _a_user(store: SimulatorStore) -> str:
    users, _ = store.list_users(page=1, per_page=10)
    return str(next(u["id"] for u in users if u["id"] != store.owner_id))


async def test_a_get_by_id_exports_a_server_span_and_its_client_span_in_one_trace(
    client: httpx.AsyncClient,
    tracing: Tracing,
    receiver: OtlpReceiver,
    store: SimulatorStore,
    upstream: HeaderRecorder,
) -> None:
    user_id = _a_user(store)
    with capture_logs() as logs:
        response = await client.get(f"/Users/{user_id}")
    assert response.status_code == 200
    assert tracing.force_flush()

    [server] = receiver.named("GET /scim/v2/Users/{user_id}")
    [attempt] = receiver.named("GET /users/{id}")
    assert (server.kind, attempt.kind) == (SERVER, CLIENT)
    assert attempt.trace_id == server.trace_id
    assert attempt.parent_span_id == server.span_id
    assert server.parent_span_id == ""  # no traceparent came: a new trace
    assert server.attributes == {
        "http.request.method": "GET",
        "http.route": "/scim/v2/Users/{user_id}",
        "url.scheme": "http",
        "url.path": f"/scim/v2/Users/{user_id}",
        "client.address": "127.0.0.1",
        "http.response.status_code": 200,
        "scim_proxy.request_id": response.headers["x-request-id"],
        "scim_proxy.resource": "User",
        "scim_proxy.operation": "get",
        "scim_proxy.idp": "okta",
        "scim_proxy.upstream_calls": 1,
    }
    assert attempt.attributes == {
        "http.request.method": "GET",
        "url.template": "/users/{id}",
        "url.full": f"http://telemetrytv.test/users/{user_id}",
        "server.address": "telemetrytv.test",
        "server.port": 80,
        "http.response.status_code": 200,
        "scim_proxy.attempt": 1,
        "scim_proxy.wait_before_ms": 0.0,
        "scim_proxy.retry_after_honoured": False,
    }
    assert server.resource["service.name"] == "scim-proxy"
    # The upstream call carried the CLIENT span's context, so a TelemetryTV that traces
    # would join this trace.
    [(call, headers)] = upstream.requests
    assert call == f"GET /users/{user_id}"
    assert _parent(headers) == (server.trace_id, attempt.span_id, True)
    # The log event and the trace name each other.
    [event] = [e for e in logs if e["event"] == "request"]
    assert (event["trace_id"], event["span_id"]) == (server.trace_id, server.span_id)


async def test_an_inbound_traceparent_is_continued(
    client: httpx.AsyncClient,
    tracing: Tracing,
    receiver: OtlpReceiver,
    store: SimulatorStore,
    upstream: HeaderRecorder,
) -> None:
    user_id = _a_user(store)
    response = await client.get(
        f"/Users/{user_id}",
        headers={
            "traceparent": f"00-{INBOUND_TRACE}-{INBOUND_SPAN}-01",
            "tracestate": "ingress=abc",
        },
    )
    assert response.status_code == 200
    # The request id still comes from traceparent when no X-Request-ID was sent.
    assert response.headers["x-request-id"] == INBOUND_TRACE
    assert tracing.force_flush()
    [server] = receiver.named("GET /scim/v2/Users/{user_id}")
    [attempt] = receiver.named("GET /users/{id}")
    assert server.trace_id == attempt.trace_id == INBOUND_TRACE
    assert server.parent_span_id == INBOUND_SPAN
    assert server.trace_state == "ingress=abc"
    [(_, headers)] = upstream.requests
    assert _parent(headers) == (INBOUND_TRACE, attempt.span_id, True)
    assert headers["tracestate"] == "ingress=abc"


async def test_an_unsampled_inbound_trace_is_not_exported_but_still_passed_on(
    client: httpx.AsyncClient,
    tracing: Tracing,
    receiver: OtlpReceiver,
    store: SimulatorStore,
    upstream: HeaderRecorder,
) -> None:
    # The default sampler follows the parent: a caller that did not sample is obeyed.
    response = await client.get(
        f"/Users/{_a_user(store)}",
        headers={"traceparent": f"00-{INBOUND_TRACE}-{INBOUND_SPAN}-00"},
    )
    assert response.status_code == 200
    assert tracing.force_flush()
    assert receiver.spans() == []
    [(_, headers)] = upstream.requests
    trace_id, _, sampled = _parent(headers)
    assert (trace_id, sampled) == (INBOUND_TRACE, False)


async def test_a_refusal_is_named_by_route_and_a_404_path_by_method_alone(
    client: httpx.AsyncClient, tracing: Tracing, receiver: OtlpReceiver
) -> None:
    missing = await client.get("/Users/0000000000000000000000ff")
    unrouted = await client.get("/Nothing/here")
    assert (missing.status_code, unrouted.status_code) == (404, 404)
    assert tracing.force_flush()
    [server] = receiver.named("GET /scim/v2/Users/{user_id}")
    assert server.attributes["http.response.status_code"] == 404
    assert server.status_code != STATUS_ERROR  # a 4xx is the client's, not the server's
    [attempt] = receiver.named("GET /users/{id}")
    assert attempt.status_code == STATUS_ERROR
    assert attempt.attributes["error.type"] == "404"
    [bare] = receiver.named("GET")
    assert "http.route" not in bare.attributes
    assert bare.attributes["scim_proxy.reason"] == "no_such_endpoint"


async def test_probes_and_scrapes_are_not_traced(
    client: httpx.AsyncClient, tracing: Tracing, receiver: OtlpReceiver
) -> None:
    with capture_logs() as logs:
        for path in ("/healthz", "/readyz", "/metrics"):
            await client.get(f"http://proxy.test{path}")
    assert tracing.force_flush()
    assert [s.name for s in receiver.spans() if s.kind == SERVER] == []
    assert all("trace_id" not in e for e in logs if e["event"] == "request")


async def test_the_filter_value_and_an_email_in_the_path_stay_out_without_include_values(
    client: httpx.AsyncClient, tracing: Tracing, receiver: OtlpReceiver
) -> None:
    await client.get('/Users?filter=userName eq "someone@example.com"')
    await client.get("/Users/someone@example.com")
    assert tracing.force_flush()
    [listing] = receiver.named("GET /scim/v2/Users")
    [by_id] = receiver.named("GET /scim/v2/Users/{user_id}")
    assert "url.query" not in listing.attributes
    assert listing.attributes["url.path"] == "/scim/v2/Users"
    assert "url.path" not in by_id.attributes
    [lookup] = receiver.named("GET /users")
    assert lookup.attributes["url.full"] == "http://telemetrytv.test/users"
    assert b"someone" not in receiver.raw()


async def test_with_include_values_the_query_and_path_are_exported(
    monkeypatch: pytest.MonkeyPatch,
    receiver: OtlpReceiver,
    settings: Settings,
    upstream: HeaderRecorder,
) -> None:
    clean_otel_environment(monkeypatch, receiver.endpoint)
    settings = traced_settings(settings.replace("logging", include_values=True))
    tracing = start(settings)
    app = traced_app(settings, upstream, tracing)
    async for http in client_of(app):
        await http.get('/Users?filter=userName eq "someone@example.com"')
    assert tracing.force_flush()
    await app.aclose()
    [listing] = receiver.named("GET /scim/v2/Users")
    assert listing.attributes["url.query"] == "filter=userName%20eq%20%22someone@example.com%22"
    [lookup] = receiver.named("GET /users")
    assert lookup.attributes["url.full"].endswith("/users?email=someone%40example.com")


async def test_the_spans_reach_the_collector_when_the_app_shuts_down(
    client: httpx.AsyncClient, app: ProxyApp, receiver: OtlpReceiver, store: SimulatorStore
) -> None:
    # No flush asked for: the batch processor waits 5 s between exports; the lifespan's
    # shutdown (ProxyApp.aclose) sends what is left.
    await client.get(f"/Users/{_a_user(store)}")
    assert receiver.spans() == []
    await app.aclose()
    assert [s.name for s in receiver.spans()] == ["GET /users/{id}", "GET /scim/v2/Users/{user_id}"]


async def test_a_refusal_of_the_open_breaker_has_its_span(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver, settings: Settings
) -> None:
    clean_otel_environment(monkeypatch, receiver.endpoint)
    settings = traced_settings(settings.replace("upstream", breaker_failures=1, retry_attempts=1))
    tracing = start(settings)
    down = httpx.MockTransport(lambda request: httpx.Response(500, json={"error": "down"}))
    app = create_app(settings, upstream_transport=down, tracing=tracing)
    async for http in client_of(app):
        failed = await http.get("/Users/0000000000000000000000ff")
        refused = await http.get("/Users/0000000000000000000000ff")
    assert (failed.status_code, refused.status_code) == (502, 503)
    await app.aclose()
    [refusal] = receiver.named("upstream.breaker.refused")
    assert refusal.kind == INTERNAL
    assert refusal.status_code == STATUS_ERROR
    assert refusal.attributes["error.type"] == "CircuitOpen"
    assert refusal.attributes["url.template"] == "/users/{id}"
    assert refusal.attributes["scim_proxy.breaker.state"] == "open"
    servers = receiver.named("GET /scim/v2/Users/{user_id}")
    assert refusal.parent_span_id == servers[1].span_id
    assert [s.attributes["scim_proxy.reason"] for s in servers] == [
        "telemetrytv_server_error",
        "breaker_open",
    ]
    assert all(s.status_code == STATUS_ERROR for s in servers)  # 5xx: the server's failure


def _group_patch(user_ids: list[str]) -> dict[str, object]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}],
    }


async def test_a_group_patch_under_redis_coordination_shows_its_lock_spans(
    monkeypatch: pytest.MonkeyPatch,
    receiver: OtlpReceiver,
    settings: Settings,
    upstream: HeaderRecorder,
    store: SimulatorStore,
    redis_server: RedisServer,
) -> None:
    clean_otel_environment(monkeypatch, receiver.endpoint)
    settings = traced_settings(
        settings.replace("groups", coordination=Coordination.redis, redis_url=redis_server.url)
    )
    tracing = start(settings)
    app = traced_app(settings, upstream, tracing)
    group_id = store.create_group({"name": "Traced"})["id"]
    users = [u["id"] for u in store.list_users(page=1, per_page=10)[0] if u["id"] != store.owner_id]
    async for http in client_of(app):
        response = await http.patch(f"/Groups/{group_id}", json=_group_patch(users))
    assert response.status_code == 204, response.text
    await app.aclose()

    [server] = receiver.named("PATCH /scim/v2/Groups/{group_id}")
    waits = receiver.named("membership.lock.wait")
    holds = receiver.named("membership.lock.hold")
    for span in [*waits, *holds]:
        assert span.trace_id == server.trace_id
        assert span.parent_span_id == server.span_id
        assert span.kind == INTERNAL
    # Each user's Redis lock, and this process's lock around the write, waited for and held.
    redis_held = {s.attributes["scim_proxy.user_id"] for s in holds if _kind(s) == "redis"}
    assert redis_held == set(users)
    assert {s.attributes["scim_proxy.user_id"] for s in holds if _kind(s) == "process"} == set(
        users
    )
    assert {s.attributes["scim_proxy.lock.outcome"] for s in waits} == {"taken"}
    assert all(s.attributes["scim_proxy.lock.kept"] is False for s in holds if _kind(s) == "redis")
    # Each user's write under its lock is one CLIENT span of the same trace.
    writes = receiver.named("PATCH /users/{id}")
    assert len(writes) == len(users)
    assert {w.trace_id for w in writes} == {server.trace_id}


def _kind(span: object) -> str:
    return str(span.attributes["scim_proxy.lock.kind"])  # type: ignore[attr-defined]


async def test_a_verify_mode_write_shows_its_settle_wait(
    monkeypatch: pytest.MonkeyPatch,
    receiver: OtlpReceiver,
    settings: Settings,
    upstream: HeaderRecorder,
    store: SimulatorStore,
) -> None:
    clean_otel_environment(monkeypatch, receiver.endpoint)
    settings = traced_settings(settings.replace("groups", coordination=Coordination.verify))
    tracing = start(settings)
    app = traced_app(settings, upstream, tracing)
    group_id = store.create_group({"name": "Verified"})["id"]
    user_id = store.list_users(page=1, per_page=10)[0][-1]["id"]
    async for http in client_of(app):
        response = await http.patch(f"/Groups/{group_id}", json=_group_patch([user_id]))
    assert response.status_code == 204, response.text
    await app.aclose()
    [server] = receiver.named("PATCH /scim/v2/Groups/{group_id}")
    [settle] = receiver.named("membership.verify.settle")
    assert settle.parent_span_id == server.span_id
    assert settle.attributes["scim_proxy.settle_seconds"] >= settings.groups.settle_seconds


def _canary_user(email: str, password: str) -> dict[str, object]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Canary", "familyName": "Bird"},
        "emails": [{"value": email, "primary": True, "type": "work"}],
        "password": password,
        "active": True,
    }


CANARY_TOKEN = "canary-token-7d1e0b5c9a"
CANARY_PASSWORD = "canary-Pa55word-41f3"
CANARY_EMAIL = "canary.bird.93ab@example.com"


async def test_no_token_password_or_personal_value_reaches_the_collector(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver, settings: Settings
) -> None:
    from scim_proxy.simulator import create_simulator_app

    clean_otel_environment(monkeypatch, receiver.endpoint)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=canary-test")
    settings = traced_settings(settings)
    tracing = start(settings)
    simulator = create_simulator_app(SimulatorSettings(token=CANARY_TOKEN, users=2))
    upstream = HeaderRecorder(simulator)
    app = traced_app(settings, upstream, tracing)
    wrong = CANARY_TOKEN + "x"
    async for http in client_of(app, Authorization=f"Bearer {CANARY_TOKEN}"):
        created = await http.post("/Users", json=_canary_user(CANARY_EMAIL, CANARY_PASSWORD))
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        answers = [
            await http.get(f'/Users?filter=userName eq "{CANARY_EMAIL}"'),
            await http.get(f"/Users/{CANARY_EMAIL}"),
            await http.put(f"/Users/{user_id}", json=_canary_user(CANARY_EMAIL, CANARY_PASSWORD)),
            await http.patch(
                f"/Users/{user_id}",
                json={
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "replace", "path": "password", "value": CANARY_PASSWORD},
                        {"op": "replace", "path": "name.givenName", "value": CANARY_EMAIL},
                    ],
                },
            ),
            # Taken already: TelemetryTV's refusal quotes the email.
            await http.post("/Users", json=_canary_user(CANARY_EMAIL, CANARY_PASSWORD)),
            # Refused by TelemetryTV: a token in the Authorization header of a failed call.
            await http.get(f"/Users/{user_id}", headers={"Authorization": f"Bearer {wrong}"}),
            await http.get(f"/Users/{user_id}", headers={"Authorization": f"Basic {wrong}"}),
        ]
    assert [a.status_code for a in answers] == [200, 404, 200, 200, 409, 401, 401]
    await app.aclose()
    assert all(call[1]["traceparent"] for call in upstream.requests)
    exported = receiver.raw()
    spans = receiver.spans()
    assert len(spans) >= 2 * len(answers)
    assert spans[0].resource["deployment.environment"] == "canary-test"
    token_as_basic = base64.b64encode(f"{CANARY_TOKEN}:".encode()).decode()
    # Each also as a URL or a JSON string would spell it; the email's local part alone
    # catches any other spelling of its domain part.
    secrets = [CANARY_TOKEN, token_as_basic, CANARY_PASSWORD, CANARY_EMAIL, "Canary"]
    secrets += [quote(CANARY_EMAIL), quote_plus(CANARY_EMAIL), CANARY_EMAIL.split("@")[0]]
    for secret in secrets:
        assert secret.encode() not in exported, secret
    for scheme in (b"Bearer ", b"Basic ", b"Token "):
        assert scheme not in exported
    # Nothing recorded an exception (its message could quote TelemetryTV's text).
    assert all(span.events == 0 for span in spans)
    # The exported spans do say what happened, without the values.
    reasons = {s.attributes.get("scim_proxy.reason") for s in spans if s.kind == SERVER}
    assert {"telemetrytv_conflict", "token_refused_by_telemetrytv"} <= reasons


async def test_the_traceparent_reaches_telemetrytv_over_the_production_transport(
    monkeypatch: pytest.MonkeyPatch,
    receiver: OtlpReceiver,
    settings: Settings,
    upstream: HeaderRecorder,
    store: SimulatorStore,
) -> None:
    # aiohttp, pooled, to an upstream named by host name as production names TelemetryTV.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(upstream, lifespan="off", log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    clean_otel_environment(monkeypatch, receiver.endpoint)
    settings = traced_settings(
        settings.replace(
            "upstream", base_url=f"http://localhost:{port}", transport=TransportKind.aiohttp
        )
    )
    tracing = start(settings)
    app = create_app(settings, tracing=tracing)  # its own aiohttp transport, as serve builds
    try:
        user_id = _a_user(store)
        async for http in client_of(app):
            for _ in range(2):  # the second over the pooled connection
                assert (await http.get(f"/Users/{user_id}")).status_code == 200
    finally:
        await app.aclose()
        server.should_exit = True
        await serving
        sock.close()
    attempts = receiver.named("GET /users/{id}")
    assert [a.attributes["server.address"] for a in attempts] == ["localhost", "localhost"]
    sent = sorted(_parent(headers) for _, headers in upstream.requests)
    assert sent == sorted((a.trace_id, a.span_id, True) for a in attempts)
    assert len({trace_id for trace_id, _, _ in sent}) == 2  # one trace per request


async def test_each_attempt_of_a_retried_call_is_a_client_span_with_its_wait(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver, settings: Settings, simulator: ASGIApp
) -> None:
    # The first attempt gets no answer, the second a 429 with Retry-After, the third the
    # simulator's answer.
    clean_otel_environment(monkeypatch, receiver.endpoint)
    settings = traced_settings(settings)
    tracing = start(settings)
    real = httpx.ASGITransport(app=simulator)
    attempts = 0

    async def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise httpx.ConnectError("refused", request=request)
        if attempts == 2:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow down"})
        return await real.handle_async_request(request)

    app = create_app(settings, upstream_transport=httpx.MockTransport(flaky), tracing=tracing)
    async for http in client_of(app):
        response = await http.get("/Users?count=1")
    assert response.status_code == 200
    await app.aclose()
    [server] = receiver.named("GET /scim/v2/Users")
    spans = sorted(receiver.named("GET /users"), key=lambda s: s.attributes["scim_proxy.attempt"])
    assert [s.attributes["scim_proxy.attempt"] for s in spans] == [1, 2, 3]
    assert [s.attributes.get("http.request.resend_count") for s in spans] == [None, 1, 2]
    assert all(s.parent_span_id == server.span_id for s in spans)
    first, second, third = spans
    assert (first.status_code, first.attributes["error.type"]) == (STATUS_ERROR, "ConnectionFailed")
    assert "http.response.status_code" not in first.attributes
    assert second.attributes["error.type"] == "429"
    # The backoff before the second (0.01-0.02 s here), the Retry-After before the third.
    assert second.attributes["scim_proxy.wait_before_ms"] > 0
    assert second.attributes["scim_proxy.retry_after_honoured"] is False
    assert third.attributes["scim_proxy.retry_after_honoured"] is True
    assert third.attributes["http.response.status_code"] == 200
    # Every attempt of the request (the roles' group listing too) is one CLIENT span.
    clients = [s for s in receiver.spans() if s.kind == CLIENT]
    assert server.attributes["scim_proxy.upstream_calls"] == len(clients)
