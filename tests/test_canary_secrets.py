"""No token or password reaches a log line, an error or a response: proven with canaries.

A scripted session runs through the whole app with real JSON logging at debug level,
written to memory. The simulator's token and every password sent are canary strings;
every status line, header and body answered, and every log line written, is searched.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import structlog
from starlette.types import ASGIApp

from scim_proxy.http.app import create_app
from scim_proxy.http.pipeline import ProxyApp
from scim_proxy.ops.config import LoggingSettings
from scim_proxy.ops.logging import configure_logging
from scim_proxy.simulator import SimulatorSettings, SimulatorStore, create_simulator_app
from tests.conftest import BASE, fixture, proxy_settings

pytestmark = pytest.mark.anyio

CANARY_TOKEN = "CANARY-TOKEN-7f3e9d1c2b"
CANARY_PASSWORD = "CANARY-PASSWORD-a1b2c3d4e5"
TOKEN_PREFIX = "CANARY-TOKEN"
PASSWORD_PREFIX = "CANARY-PASSWORD"


def _basic(user: str) -> str:
    return base64.b64encode(f"{user}:".encode()).decode()


FORBIDDEN = (
    TOKEN_PREFIX,
    PASSWORD_PREFIX,
    # The token as an upstream Basic header would carry it.
    _basic(CANARY_TOKEN).rstrip("="),
)


@dataclass
class Capture:
    """Everything the proxy said: responses to clients, and log lines."""

    logs: io.StringIO = field(default_factory=io.StringIO)
    stdlib_logs: io.StringIO = field(default_factory=io.StringIO)
    responses: list[str] = field(default_factory=list)

    async def record(self, response: httpx.Response) -> None:
        await response.aread()
        lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
        lines += [f"{name}: {value}" for name, value in response.headers.multi_items()]
        lines.append(response.text)
        self.responses.append("\n".join(lines))

    def log_events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.logs.getvalue().splitlines() if line]

    def everything(self) -> str:
        return "\n".join([self.logs.getvalue(), self.stdlib_logs.getvalue(), *self.responses])


@pytest.fixture
def capture() -> Iterator[Capture]:
    """Real JSON logging at debug level into memory; restored afterwards."""
    captured = Capture()
    configure_logging(LoggingSettings(level="debug"), cache=False)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=captured.logs))
    handler = logging.StreamHandler(captured.stdlib_logs)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        configure_logging(cache=False)


def canary_simulator() -> ASGIApp:
    return create_simulator_app(SimulatorSettings(token=CANARY_TOKEN, users=3))


def proxy_client(
    app: ASGIApp, capture: Capture, authorization: str | bytes = f"Bearer {CANARY_TOKEN}"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={
            b"Authorization": authorization
            if isinstance(authorization, bytes)
            else authorization.encode("latin-1"),
            b"User-Agent": b"Okta SCIM Client 1.0.0",
        },
        event_hooks={"response": [capture.record]},
    )


def proxy_in_front_of(upstream: ASGIApp | httpx.MockTransport) -> ProxyApp:
    transport = (
        upstream if isinstance(upstream, httpx.MockTransport) else httpx.ASGITransport(app=upstream)
    )
    return create_app(proxy_settings(), upstream_transport=transport)


def assert_no_secret_in(text: str) -> None:
    for secret in FORBIDDEN:
        position = text.find(secret)
        assert position < 0, (
            f"{secret!r} leaked: ...{text[max(0, position - 300) : position + 200]}"
        )


def echoing(status: int, shape: Callable[[str, str], dict[str, Any]]) -> httpx.MockTransport:
    """An upstream answering ``status`` with a body echoing the token and the request body."""

    def handler(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2]
        return httpx.Response(status, json=shape(f"{header} / {token}", request.content.decode()))

    return httpx.MockTransport(handler)


# -- the scripted session ------------------------------------------------------------


async def run_session(capture: Capture, store: SimulatorStore, simulator: ASGIApp) -> None:
    """Okta-like traffic through the proxy; each step's status checked so none is skipped."""
    proxy = proxy_in_front_of(simulator)
    async with proxy_client(proxy, capture) as http:

        async def expect(status: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await http.request(method, path, **kwargs)
            assert response.status_code == status, (method, path, response.text)
            return response

        # Reads.
        await expect(200, "GET", "/Users", params={"count": 2})
        await expect(200, "GET", "/Users", params={"filter": 'userName eq "nobody@example.com"'})
        await expect(200, "GET", "/Users", params={"filter": 'name.givenName sw "A"'})

        # Create with a password, read it back, find it.
        body = {**fixture("okta/create-user"), "password": CANARY_PASSWORD}
        created = (await expect(201, "POST", "/Users", json=body)).json()
        user_id = created["id"]
        assert store.password_of(user_id) == CANARY_PASSWORD  # the password did go upstream
        await expect(200, "GET", f"/Users/{user_id}")
        await expect(200, "GET", "/Users", params={"filter": f'userName eq "{body["userName"]}"'})
        await expect(200, "GET", "/Users", params={"filter": f'id eq "{user_id}"'})

        # Password changes: PUT, pathless PATCH, pathed PATCH.
        put = fixture("okta/put-sync-password", id=user_id)
        put["password"] = CANARY_PASSWORD + "-put"
        await expect(200, "PUT", f"/Users/{user_id}", json=put)
        assert store.password_of(user_id) == CANARY_PASSWORD + "-put"
        pathless = fixture("okta/patch-sync-password-pathless")
        pathless["Operations"][0]["value"]["password"] = CANARY_PASSWORD + "-pathless"
        await expect(200, "PATCH", f"/Users/{user_id}", json=pathless)
        pathed = fixture("okta/patch-sync-password-path")
        pathed["Operations"][0]["value"] = CANARY_PASSWORD + "-pathed"
        await expect(200, "PATCH", f"/Users/{user_id}", json=pathed)
        assert store.password_of(user_id) == CANARY_PASSWORD + "-pathed"

        # A create meeting a taken email, with a password.
        await expect(409, "POST", "/Users", json=body)

        # Deactivate, reactivate.
        await expect(200, "PATCH", f"/Users/{user_id}", json=fixture("okta/patch-deactivate-user"))
        await expect(200, "PATCH", f"/Users/{user_id}", json=fixture("okta/patch-reactivate-user"))
        await expect(
            200, "PUT", f"/Users/{user_id}", json=fixture("okta/put-deactivate-user", id=user_id)
        )

        # Groups: create, push members, rename, list, delete.
        group = (await expect(201, "POST", "/Groups", json=fixture("okta/group-create"))).json()
        group_id = group["id"]
        members = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
        }
        await expect(204, "PATCH", f"/Groups/{group_id}", json=members)
        await expect(204, "PATCH", f"/Groups/{group_id}", json=fixture("okta/group-patch-rename"))
        await expect(200, "GET", f"/Groups/{group_id}")
        await expect(200, "GET", "/Groups")
        await expect(204, "DELETE", f"/Groups/{group_id}")

        # Malformed bodies carrying the password.
        bad_bodies: list[tuple[str, str, bytes]] = [
            ("POST", "/Users", b'{"userName": "x@example.com", "password": "' + pw() + b'"'),
            ("POST", "/Users", b'{"userName": 42, "password": "' + pw() + b'"}'),
            ("POST", "/Users", b'{"userName": "x@example.com", "password": ["' + pw() + b'"]}'),
            (
                "POST",
                "/Users",
                b'{"userName": "x@example.com", "password": {"v": "' + pw() + b'"}}',
            ),
            ("POST", "/Users", b'["' + pw() + b'"]'),
            ("POST", "/Users", b'{"password": "' + pw() + b'\xff"}'),
            ("PUT", f"/Users/{user_id}", b'{"userName": null, "password": "' + pw() + b'"}'),
            (
                "PATCH",
                f"/Users/{user_id}",
                b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
                b' "Operations": [{"op": "frobnicate", "value": {"password": "' + pw() + b'"}}]}',
            ),
            (
                "PATCH",
                f"/Users/{user_id}",
                b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
                b' "Operations": [{"op": "replace", "path": "password", "value": ["'
                + pw()
                + b'"]}]}',
            ),
            (
                "PATCH",
                f"/Users/{user_id}",
                b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
                b' "Operations": [{"op": "replace", "path": "password", "value": 7}],'
                b' "password": "' + pw() + b'"}',
            ),
        ]
        for method, path, content in bad_bodies:
            response = await http.request(
                method, path, content=content, headers={"Content-Type": "application/scim+json"}
            )
            assert 400 <= response.status_code < 500, (method, path, content, response.text)

        # A short password TelemetryTV refuses, with its field message passed on.
        short = {**fixture("okta/create-user"), "userName": "s@example.com", "password": "CANARY"}
        short["emails"] = [{"primary": True, "value": "s@example.com", "type": "work"}]
        await expect(400, "POST", "/Users", json=short)

        await expect(204, "DELETE", f"/Users/{user_id}")

        # What operators scrape: captured too, whatever they answer.
        for path in ("/healthz", "/metrics"):
            await http.get(f"http://proxy.test{path}")

    # Wrong and malformed tokens, several carrying the canary's prefix.
    wrong_headers: list[str | bytes] = [
        f"Bearer {TOKEN_PREFIX}-wrong-0000",
        f"Token {TOKEN_PREFIX}-wrong-1111",
        f"Basic {_basic(TOKEN_PREFIX + '-wrong-2222')}",
        f"Bearer {CANARY_TOKEN} extra",
        f"Bearer {CANARY_TOKEN}\u00e9".encode(),
        f"Digest {CANARY_TOKEN}",
        f"Basic {CANARY_TOKEN}",
    ]
    for authorization in wrong_headers:
        async with proxy_client(proxy, capture, authorization) as wrong:
            response = await wrong.get("/Users", params={"count": 1})
            assert response.status_code == 401, (authorization, response.text)
            response = await wrong.post("/Users", json=body)
            assert response.status_code == 401, (authorization, response.text)
    # The right token in the other accepted schemes.
    for authorization in (f"Token {CANARY_TOKEN}", f"Basic {_basic(CANARY_TOKEN)}"):
        async with proxy_client(proxy, capture, authorization) as other:
            assert (await other.get("/Users", params={"count": 1})).status_code == 200


def pw() -> bytes:
    return CANARY_PASSWORD.encode()


async def run_upstream_failures(capture: Capture) -> None:
    """Upstream errors whose text echoes the token; and an unexpected failure (500)."""

    def message(echo: str, body: str) -> dict[str, Any]:
        return {"error": f"token {echo} is not allowed here"}

    cases = [
        (echoing(403, message), 403),
        (echoing(409, lambda echo, body: {"error": f"email already taken ({echo})"}), 409),
        (echoing(429, message), 429),
        (echoing(500, message), 502),
        (echoing(502, message), 502),
        (echoing(401, message), 401),
        (echoing(404, message), 404),
        (echoing(200, lambda echo, body: {"unexpected": echo}), 502),
    ]
    for transport, status in cases:
        app = proxy_in_front_of(transport)
        async with proxy_client(app, capture) as http:
            got = await http.get("/Users/abc")
            assert got.status_code == status, got.text
            created = await http.post(
                "/Users", json={**fixture("okta/create-user"), "password": CANARY_PASSWORD}
            )
            assert created.status_code >= 400, created.text

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the transport failed in a way nobody expected")

    app = proxy_in_front_of(httpx.MockTransport(explode))
    async with proxy_client(app, capture) as http:
        response = await http.post(
            "/Users", json={**fixture("okta/create-user"), "password": CANARY_PASSWORD}
        )
        assert response.status_code == 500, response.text
        response = await http.get("/Users/abc")
        assert response.status_code == 500, response.text


async def test_canary_token_and_passwords_appear_in_no_log_error_or_response(
    capture: Capture,
) -> None:
    simulator = canary_simulator()
    await run_session(capture, simulator.state.store, simulator)
    await run_upstream_failures(capture)

    events = capture.log_events()
    requests = [e for e in events if e["event"] == "request"]
    assert len(requests) >= 50
    assert {e["status"] for e in requests} >= {200, 201, 204, 400, 401, 409, 500, 502}
    assert any(e["event"] == "upstream_call" for e in events)  # each upstream attempt
    assert any(e["event"] == "unhandled_error" and "exception" in e for e in events)
    assert len(capture.responses) == len(requests)
    assert_no_secret_in(capture.everything())


# -- upstream text that echoes a secret ----------------------------------------------


async def post_user_through(transport: httpx.MockTransport, capture: Capture) -> httpx.Response:
    app = proxy_in_front_of(transport)
    async with proxy_client(app, capture) as http:
        return await http.post(
            "/Users", json={**fixture("okta/create-user"), "password": CANARY_PASSWORD}
        )


Shape = Callable[[str, str], dict[str, Any]]
ECHOES: list[Any] = [
    pytest.param(400, lambda e, b: {"error": f"bad: {e} {b}"}, id="400-message"),
    pytest.param(
        422,
        lambda e, b: {"error": "Validation error", "fields": {"email": [e, b]}},
        id="422-fields",
    ),
    pytest.param(
        400,
        lambda e, b: {"error": "invalid", "fields": [{"password": f"{b} {e}"}]},
        id="400-field-list",
    ),
    pytest.param(403, lambda e, b: {"error": f"no: {e} {b}"}, id="403"),
    pytest.param(409, lambda e, b: {"error": f"email taken: {e} {b}"}, id="409"),
    pytest.param(404, lambda e, b: {"message": f"{e} {b}"}, id="404"),
    pytest.param(500, lambda e, b: {"error": f"{e} {b}"}, id="500"),
]


@pytest.mark.parametrize(("status", "shape"), ECHOES)
async def test_upstream_error_text_echoing_the_token_or_password_is_not_passed_on(
    capture: Capture, status: int, shape: Shape
) -> None:
    response = await post_user_through(echoing(status, shape), capture)
    assert response.status_code >= 400, response.text
    assert '"detail"' in response.text
    assert_no_secret_in(capture.everything())


# -- the check itself can fail -------------------------------------------------------


def test_the_search_finds_a_canary_wherever_it_is(capture: Capture) -> None:
    structlog.get_logger("canary.self_test").info("probe", note=f"x{CANARY_PASSWORD}x")
    with pytest.raises(AssertionError, match="leaked"):
        assert_no_secret_in(capture.everything())


# -- the allowlist and throttling ----------------------------------------------------


async def test_refused_and_throttled_tokens_and_their_digests_appear_nowhere(
    capture: Capture,
) -> None:
    from scim_proxy.http.auth_guard.allowlist import token_sha256

    stranger = f"{TOKEN_PREFIX}-stranger-5d0c"
    digests = [token_sha256(CANARY_TOKEN), token_sha256(stranger)]
    simulator = canary_simulator()
    upstream = httpx.ASGITransport(app=simulator)
    for allow in (True, False):
        settings = proxy_settings().replace(
            "auth", allowed_token_sha256=(digests[0],) if allow else (), failure_limit=3
        )
        app = create_app(settings, upstream_transport=upstream)
        async with proxy_client(app, capture) as http:
            # Without an allowlist, this proves the IdP's token before the guessing starts.
            assert (await http.get("/Users", params={"count": 1})).status_code == 200
        async with proxy_client(app, capture, f"Bearer {stranger}") as http:
            statuses = [(await http.get("/Users")).status_code for _ in range(4)]
            assert statuses == [401, 401, 401, 429]
            assert (await http.get("/Users", headers={"Authorization": ""})).status_code == 429
        async with proxy_client(app, capture) as http:
            assert (await http.get("/Users", params={"count": 1})).status_code == 200
            metrics = await http.get("http://proxy.test/metrics")
            assert 'scim_proxy_auth_refusals_total{reason="throttled"}' in metrics.text
    events = capture.log_events()
    assert {e["reason"] for e in events if e["event"] == "auth_refused"} == {
        "not_allowed",
        "upstream_rejected",
    }
    assert any(e["event"] == "auth_throttle_started" for e in events)
    everything = capture.everything()
    assert_no_secret_in(everything)
    for digest in digests:
        assert digest not in everything
        assert digest[:16] not in everything
