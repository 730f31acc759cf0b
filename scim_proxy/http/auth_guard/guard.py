"""The gate in front of the SCIM endpoints: the token allowlist and failed-auth throttling.

Called by the request pipeline (``http/pipeline.py``) once the request has its id and
bookkeeping (so its answers carry a request id and are logged as ``request`` events) and
before routing, so that a refused or throttled request never reaches a route, let alone
TelemetryTV.

- A token in ``auth.allowed_token_sha256`` goes straight through, whatever its address:
  the real IdP is never throttled.
- A client address with no failure in its window is never throttled: beyond
  ``auth.failure_limit`` of its requests in flight, the next ones wait for a slot (at most
  half their time budget; a SCIM 503 with ``Retry-After`` if none comes free).
- A throttled client address gets a SCIM 429 with ``Retry-After``. Without an allowlist, a
  token TelemetryTV accepted before (:class:`~.throttle.ProvenTokens`) still
  goes through, so the IdP is not slowed by a stranger sharing its address.
- With an allowlist, any other token is a 401 here.
- Every 401 (no or malformed ``Authorization``, not allowed, refused by TelemetryTV) counts
  toward the client address's throttling.
- ``/metrics`` passes the guard too, without an in-flight slot (a scrape makes no upstream
  call): a throttled address gets 429 there as well, and a wrong scrape token (the route's
  401) counts toward the same throttling, so ``metrics.token`` cannot be guessed freely.

The client address is ``scope["client"]``: taken from ``X-Forwarded-For`` when the peer is
one of ``auth.trusted_proxies`` and it holds an IP address, else the peer's own
(``http/pipeline.py``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

import structlog
from starlette.types import Scope

from ...ops.config import AuthSettings
from ...ops.context import request_stats
from ...ops.fingerprint import token_fingerprint
from ...ops.metrics import AUTH_REFUSALS
from ...scim.errors import ScimError
from ..auth import token_from_header, token_not_allowed
from ..routes import health
from ..state import proxy_state_of
from .allowlist import TokenAllowlist, token_sha256
from .throttle import BUSY, FailureThrottle, ProvenTokens, client_key

log = structlog.get_logger("scim_proxy.auth")

DEFAULT_PATIENCE = 10.0
"""Seconds a request waits for an in-flight slot when it has no time budget."""

METRICS_PATH = "/metrics"

UNGUARDED = frozenset(route.path for route in health.routes if route.path != METRICS_PATH)
"""``/healthz``, ``/readyz``: no token of any kind (probes). Every other path is guarded,
so no spelling of a SCIM path can slip past the allowlist; ``/metrics`` is guarded by the
throttle only (its scrape token is not a TelemetryTV token)."""


def _authorization(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def _token(header: str | None) -> str | None:
    """The well-formed token ``header`` carries, else None (the route answers the 401)."""
    if header is None:
        return None
    try:
        return token_from_header(header)
    except ScimError:
        return None


def throttled(seconds: int) -> ScimError:
    """429 for a client address with too many failed authentications."""
    return ScimError(
        429,
        "Too many requests with a missing or refused API token came from this client address; "
        f"retry after {seconds} seconds. If this is your identity provider, check the API "
        "token in the app's provisioning settings.",
        headers={"Retry-After": str(seconds)},
        reason="auth_throttled",
    )


def scrape_throttled(seconds: int) -> ScimError:
    """429 for a scrape of ``/metrics`` from a client address that keeps failing."""
    return ScimError(
        429,
        "Too many requests with a missing or refused token came from this client address; "
        f"retry after {seconds} seconds. If this is your metrics scraper, check that it "
        "sends Authorization: Bearer <metrics.token>.",
        headers={"Retry-After": str(seconds)},
        reason="auth_throttled",
    )


def still_busy() -> ScimError:
    """503 for a request that waited its whole patience behind its address's others."""
    return ScimError(
        503,
        "Earlier requests from this client address are still waiting for TelemetryTV's "
        "answer; retry in a second. If this keeps happening, check TelemetryTV's response "
        "times (docs/operations.md).",
        headers={"Retry-After": "1"},
        reason="auth_busy",
    )


class Admission:
    """One request's passage through the guard: what :meth:`AuthGuard.settle` needs after.

    ``refusal`` set: the request is answered with it and goes no further (not settled).
    ``waiting`` set: :meth:`AuthGuard.wait_turn` must be awaited before going on.
    """

    __slots__ = (
        "admitted",
        "allowlisted",
        "client",
        "header",
        "refusal",
        "scrape",
        "token",
        "waiting",
    )

    def __init__(self, header: str | None, token: str | None, client: str | None) -> None:
        self.header = header
        self.token = token
        self.client = client
        self.admitted = True
        """Whether the throttle gave it an in-flight slot (to be given back at settling)."""
        self.allowlisted = False
        self.scrape = False
        """A ``/metrics`` request: no slot taken, only a 401 to count."""
        self.waiting = False
        self.refusal: ScimError | None = None


class AuthGuard:
    """Refuses tokens outside the allowlist and throttles addresses that keep failing.

    Called by the request pipeline (``http/pipeline.py``) around each guarded request rather
    than stacked as a middleware: :meth:`admit` before routing, :meth:`wait_turn` when it
    says so, the endpoint, then :meth:`settle` with the status answered (0 if none).
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        fingerprint_key: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowlist = TokenAllowlist(settings.allowed_token_sha256)
        self.throttle = (
            FailureThrottle(
                limit=settings.failure_limit,
                window=settings.failure_window_seconds,
                max_clients=settings.max_tracked_clients,
                clock=clock,
            )
            if settings.failure_limit
            else None
        )
        self.proven = ProvenTokens()
        self.fingerprint_key = fingerprint_key

    def admit(self, scope: Scope) -> Admission:
        """Let the request of ``scope`` in, refuse it, or tell it to wait its turn."""
        if scope["path"] == METRICS_PATH:
            return self._scrape(scope)
        header = _authorization(scope)
        token = _token(header)
        if self.allowlist.enabled and token is not None:
            digest = token_sha256(token)
            if self.allowlist.allows_digest(digest):
                # Never throttled; a 401 from TelemetryTV is still counted and logged.
                admission = Admission(header, token, None)
                admission.allowlisted = True
                return admission
            # An allowlist is set and this token is not in it.
            admission = Admission(header, token, client_key(_host(scope)))
            return self._throttled(admission, digest_known=True)
        return self._throttled(Admission(header, token, client_key(_host(scope))), False)

    def _scrape(self, scope: Scope) -> Admission:
        """A ``/metrics`` request: with ``metrics.token`` set, refused while its address is
        throttled unless it carries the token; let through otherwise.

        Without a token there is nothing to guess, and nothing is refused or counted. The
        route checks the token; its 401 is counted when the request settles. Like an
        allowed SCIM token, the right scrape token passes a throttled address (a scraper
        behind the same NAT as a guesser).
        """
        header = _authorization(scope)
        admission = Admission(header, None, client_key(_host(scope)))
        admission.scrape = True
        admission.admitted = False
        token = proxy_state_of(scope).settings.metrics.token
        if not token or self.throttle is None:
            return admission
        if header is not None and hmac.compare_digest(
            header.encode("latin-1"), f"Bearer {token}".encode()
        ):
            return admission
        wait = self.throttle.retry_after(admission.client or "")
        if wait > 0:
            AUTH_REFUSALS.labels("throttled").inc()
            admission.refusal = scrape_throttled(wait)
        return admission

    def _throttled(self, admission: Admission, digest_known: bool) -> Admission:
        throttle = self.throttle
        if throttle is not None:
            wait = throttle.admit(admission.client or "")
            if wait == BUSY and not digest_known and not self._proven(admission.token):
                # No failure from this address yet: wait for a slot rather than refuse.
                admission.waiting = True
                return admission
            self._after_admit(admission, wait)
            if admission.refusal is not None:
                return admission
        if digest_known:
            self._not_allowed(admission)
        return admission

    async def wait_turn(self, admission: Admission) -> None:
        """Wait for an in-flight slot (at most half the budget left); 503 if none comes."""
        assert self.throttle is not None
        wait = await self.throttle.wait_turn(admission.client or "", _patience())
        admission.waiting = False
        if wait == BUSY:
            admission.refusal = still_busy()
            return
        self._after_admit(admission, wait)

    def _after_admit(self, admission: Admission, wait: int) -> None:
        if wait > 0 and not self._proven(admission.token):
            AUTH_REFUSALS.labels("throttled").inc()
            admission.refusal = throttled(wait)
            return
        # A proven token passes a busy or throttled address without taking a slot, and
        # a token outside the allowlist is refused without one.
        admission.admitted = wait == 0

    def _not_allowed(self, admission: Admission) -> None:
        token = admission.token
        request_stats().token_fingerprint = self._fingerprint(token)
        self._failed(admission.client or "", "not_allowed", token, admission.admitted)
        admission.refusal = token_not_allowed()

    def settle(self, admission: Admission, scope: Scope, status: int) -> None:
        """The admitted request was answered ``status`` (0: nothing was answered)."""
        if admission.scrape:
            if status == 401:
                self._failed(admission.client or "", "metrics_token", None, admitted=False)
            return
        token = admission.token
        if admission.allowlisted:
            if status == 401:
                self._refused("upstream_rejected", token, client_key(_host(scope)))
            return
        client = admission.client or ""
        if status == 401:
            header = admission.header
            reason = (
                "upstream_rejected"
                if token is not None
                else "missing"
                if not header or not header.strip()
                else "malformed"
            )
            self._failed(client, reason, token, admission.admitted)
            if token is not None and not self.allowlist.enabled:
                self.proven.discard(token_sha256(token))
            return
        if admission.admitted and self.throttle is not None:
            self.throttle.settle(client, failed=False)
        if (
            token is not None
            and not self.allowlist.enabled
            and 200 <= status < 300
            and request_stats().upstream_calls
        ):
            # TelemetryTV answered this token's calls: it is the real thing.
            self.proven.add(token_sha256(token))

    def _proven(self, token: str | None) -> bool:
        """Whether TelemetryTV accepted this token lately (only without an allowlist)."""
        return (
            token is not None and not self.allowlist.enabled and token_sha256(token) in self.proven
        )

    def _fingerprint(self, token: str | None) -> str | None:
        return None if token is None else token_fingerprint(token, self.fingerprint_key)

    def _failed(self, client: str, reason: str, token: str | None, admitted: bool) -> None:
        """Count a 401 toward ``client``'s throttling, in metrics and in the log."""
        self._refused(reason, token, client)
        if self.throttle is None:
            return
        if self.throttle.settle(client, failed=True, admitted=admitted):
            log.warning(
                "auth_throttle_started",
                request_id=request_stats().request_id,
                client=client,
                failures=self.throttle.limit,
                window_seconds=self.throttle.window,
            )

    def _refused(self, reason: str, token: str | None, client: str) -> None:
        AUTH_REFUSALS.labels(reason).inc()
        log.warning(
            "auth_refused",
            request_id=request_stats().request_id,
            reason=reason,
            token_fingerprint=self._fingerprint(token),
            auth_scheme=request_stats().auth_scheme,
            client=client,
        )


def _patience() -> float:
    """How long a request may wait for a slot: half what is left of its time budget."""
    remaining = request_stats().remaining()
    return DEFAULT_PATIENCE if remaining is None else max(0.0, remaining / 2)


def _host(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
