"""Starlette front of the TelemetryTV simulator: auth, routing, JSON bodies and error shapes.

Request log: every HTTP request that reaches the app -- authorised or not, routed or not -- is
appended to `app.state.requests` as a `RecordedRequest(method, path, query)` before anything
else runs. It is a NamedTuple rather than a frozen dataclass because building one costs about
as much as a plain tuple (the log is on the benchmark's hot path), it unpacks
(`for method, path, _ in app.state.requests`) and it compares equal to a plain
`(method, path, query)` tuple. `path` is the ASGI path (percent-decoded, no query string);
`query` is the raw query string, "" when there is none. The log only grows: tests that count
upstream calls take `len()` before and after, or clear it.

Order of checks for a request: 401 (auth, even on unknown routes), an injected fault
(``faults.py``), a deviation's refusal (``deviations.py``), 404/405 (routing), 400
(unreadable JSON body, invalid paging), then the store's rules (404, 400, 409, 403).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections import Counter
from typing import Any, NamedTuple

import orjson
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from scim_proxy.simulator.deviations import DeviationLayer
from scim_proxy.simulator.faults import FaultInjector
from scim_proxy.simulator.model import (
    ConflictError,
    FieldValidationError,
    ForbiddenError,
    NotFoundError,
    SimulatorSettings,
    StoreError,
)
from scim_proxy.simulator.store import SimulatorStore

__all__ = ["OrjsonResponse", "RecordedRequest", "create_simulator_app"]

PAGING_HEADER = "Total-Records-Count"

_STATUS_OF_STORE_ERROR: dict[type[StoreError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    ForbiddenError: 403,
    FieldValidationError: 400,
}
# Starlette's own texts are "Not Found"/"Method Not Allowed"; the contract spells them so.
_HTTP_ERROR_MESSAGES = {404: "Not found", 405: "Method not allowed"}


class RecordedRequest(NamedTuple):
    """One request as the simulator received it (see the module docstring)."""

    method: str
    path: str
    query: str


class OrjsonResponse(Response):
    """`application/json` response encoded with orjson (the simulator's only body format)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode `content` with orjson."""
        return orjson.dumps(content)


class _Authenticator:
    """Checks an `Authorization` header against the token, for the enabled schemes only."""

    def __init__(self, token: str, schemes: tuple[str, ...]) -> None:
        self._token = token.encode()
        self._schemes = frozenset(scheme.encode() for scheme in schemes)

    def accepts(self, header: bytes) -> bool:
        scheme, _, credentials = header.strip().partition(b" ")
        scheme = scheme.lower()
        if scheme not in self._schemes:
            return False
        credentials = credentials.strip()
        if scheme == b"basic":
            try:
                decoded = base64.b64decode(credentials, validate=True)
            except binascii.Error:
                return False
            # The token is the username; any password (usually empty) is accepted.
            username, colon, _ = decoded.partition(b":")
            if not colon:
                return False
            credentials = username
        return hmac.compare_digest(credentials, self._token)


class _Gate:
    """Outermost ASGI layer: records every request, then refuses unauthenticated ones."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        log: list[RecordedRequest],
        authenticator: _Authenticator,
        challenge: str,
        latency: float = 0.0,
        print_requests: bool = False,
    ) -> None:
        self._app = app
        self._log = log
        self._authenticator = authenticator
        self._challenge = challenge
        self._latency = latency
        self._print = print_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope["query_string"]
            recorded = RecordedRequest(scope["method"], scope["path"], query.decode("latin-1"))
            self._log.append(recorded)
            if self._print:
                # As it arrives, before the latency: a watcher sees each request in flight.
                shown = f"{recorded.path}?{recorded.query}" if recorded.query else recorded.path
                print(f"{recorded.method} {shown}", flush=True)
            header = next(
                (value for name, value in scope["headers"] if name == b"authorization"), None
            )
            if header is None or not self._authenticator.accepts(header):
                response = OrjsonResponse(
                    {"message": "Unauthorized"},
                    status_code=401,
                    headers={"WWW-Authenticate": self._challenge},
                )
                await response(scope, receive, send)
                return
            if self._latency:
                await asyncio.sleep(self._latency)
        await self._app(scope, receive, send)


class _Api:
    """The route handlers; one endpoint per path, dispatching on the method."""

    def __init__(self, store: SimulatorStore, settings: SimulatorSettings) -> None:
        self._store = store
        self._default_per_page = settings.default_per_page
        self._max_per_page = settings.max_per_page
        self._paging_header = settings.paging_header

    async def users(self, request: Request) -> Response:
        if request.method == "POST":
            created = self._store.create_user(await _json_object(request))
            return OrjsonResponse(created, status_code=201)
        params = request.query_params
        page, per_page = self._paging(params)
        users, total = self._store.list_users(
            page=page,
            per_page=per_page,
            email=params.get("email"),
            user_group_id=params.get("user_group_id"),
        )
        return self._listing(users, total)

    async def user(self, request: Request) -> Response:
        user_id: str = request.path_params["user_id"]
        if request.method == "PATCH":
            return OrjsonResponse(self._store.update_user(user_id, await _json_object(request)))
        if request.method == "DELETE":
            self._store.delete_user(user_id)
            return Response(status_code=204)
        return OrjsonResponse(self._store.get_user(user_id))

    async def groups(self, request: Request) -> Response:
        if request.method == "POST":
            created = self._store.create_group(await _json_object(request))
            return OrjsonResponse(created, status_code=201)
        params = request.query_params
        page, per_page = self._paging(params)
        groups, total = self._store.list_groups(
            page=page, per_page=per_page, name=params.get("name")
        )
        return self._listing(groups, total)

    async def group(self, request: Request) -> Response:
        group_id: str = request.path_params["group_id"]
        if request.method == "PATCH":
            return OrjsonResponse(self._store.update_group(group_id, await _json_object(request)))
        if request.method == "DELETE":
            self._store.delete_group(group_id)
            return Response(status_code=204)
        return OrjsonResponse(self._store.get_group(group_id))

    def _paging(self, params: QueryParams) -> tuple[int, int]:
        page = _positive_int(params.get("page"), 1)
        per_page = _positive_int(params.get("per_page"), self._default_per_page)
        errors = [
            {name: "must be a positive integer"}
            for name, value in (("page", page), ("per_page", per_page))
            if value == 0
        ]
        if errors:
            raise FieldValidationError(errors)
        # An oversized per_page is capped silently, as paging APIs usually do.
        return page, min(per_page, self._max_per_page)

    def _listing(self, items: list[Any], total: int) -> Response:
        headers = {PAGING_HEADER: str(total)} if self._paging_header else None
        return OrjsonResponse(items, headers=headers)


def _positive_int(raw: str | None, default: int) -> int:
    """The parsed value, `default` when absent, 0 when not a positive integer."""
    if raw is None:
        return default
    # isascii() first: str.isdigit() also accepts digits int() cannot parse, e.g. "²".
    if not (raw.isascii() and raw.isdigit()):
        return 0
    try:
        return int(raw)
    except ValueError:  # beyond Python's int-from-str digit limit
        return 0


async def _json_object(request: Request) -> dict[str, object]:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="Invalid JSON body")
    return data


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    status = next(code for kind, code in _STATUS_OF_STORE_ERROR.items() if isinstance(exc, kind))
    body: dict[str, object] = {"error": exc.message}
    if isinstance(exc, FieldValidationError):
        body["fields"] = exc.fields
    return OrjsonResponse(body, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_ERROR_MESSAGES.get(exc.status_code, exc.detail)
    return OrjsonResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Keeps even a simulator bug in the contract's JSON error shape.
    return OrjsonResponse({"error": "Internal server error"}, status_code=500)


def create_simulator_app(settings: SimulatorSettings | None = None) -> Starlette:
    """Build a fresh simulated TelemetryTV account behind a Starlette app.

    `app.state.store` is its `SimulatorStore`, `app.state.settings` its settings,
    `app.state.requests` the append-only list of `RecordedRequest`s it received, and
    `app.state.faults` a counter of the faults it injected, by kind.
    """
    settings = settings or SimulatorSettings()
    store = SimulatorStore(settings)
    requests: list[RecordedRequest] = []
    faults: Counter[str] = Counter()
    api = _Api(store, settings)
    challenge = ", ".join(
        f'{scheme.capitalize()} realm="TelemetryTV"' for scheme in settings.auth_schemes
    )
    app = Starlette(
        routes=[
            Route("/users", api.users, methods=["GET", "POST"]),
            Route("/users/{user_id}", api.user, methods=["GET", "PATCH", "DELETE"]),
            Route("/user-groups", api.groups, methods=["GET", "POST"]),
            Route("/user-groups/{group_id}", api.group, methods=["GET", "PATCH", "DELETE"]),
        ],
        middleware=[
            Middleware(
                _Gate,
                log=requests,
                authenticator=_Authenticator(settings.token, settings.auth_schemes),
                challenge=challenge,
                latency=settings.latency_ms / 1000,
                print_requests=settings.log_requests,
            ),
            Middleware(
                FaultInjector,
                rate=settings.fail_rate,
                kinds=settings.fault_kinds,
                seed=settings.fault_seed,
                slow_seconds=settings.slow_ms / 1000,
                commit_delay_seconds=settings.commit_delay_ms / 1000,
                counts=faults,
            ),
            Middleware(DeviationLayer, deviations=settings.deviations),
        ],
        exception_handlers={
            StoreError: _store_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    # A trailing slash is an unknown route (JSON 404), not a redirect.
    app.router.redirect_slashes = False
    app.state.store = store
    app.state.settings = settings
    app.state.requests = requests
    app.state.faults = faults
    return app
