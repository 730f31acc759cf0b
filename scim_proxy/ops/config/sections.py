"""The settings themselves: one frozen dataclass per ``[section]``, and the choices they name.

The choices (``Deactivation``, ``AuthScheme``...) are plain names here; the layer that acts
on one (the TelemetryTV adapter for ``AuthScheme`` and ``TransportKind``) imports it from
here, so configuration never reaches up into the layers it configures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .coordination import Coordination
from .validation import validate


class Deactivation(StrEnum):
    """What ``active: false`` does to the TelemetryTV user."""

    disable = "disable"
    """Set the user's ``disabled`` flag; the user stays readable (Okta expects this)."""

    delete = "delete"
    """Delete the user; a later reactivation cannot bring it back."""


class AuthScheme(StrEnum):
    """The ``Authorization`` scheme the proxy uses towards TelemetryTV."""

    token = "token"  # noqa: S105 - a scheme name, not a secret
    """``Authorization: Token <token>``: TelemetryTV's documented form (the default)."""

    basic = "basic"
    """``Authorization: Basic base64("<token>:")``: the token as the user name."""

    bearer = "bearer"
    """``Authorization: Bearer <token>``: not documented by TelemetryTV."""


class TransportKind(StrEnum):
    """Which transport carries upstream calls."""

    aiohttp = "aiohttp"
    httpx = "httpx"


class LogFormat(StrEnum):
    """How log events are written."""

    json = "json"
    console = "console"


@dataclass(frozen=True)
class ServerSettings:
    """``[server]``: where the proxy listens and how it names itself."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    """Worker processes (each a full proxy); metrics are aggregated across them."""
    public_base_url: str = ""
    """The SCIM base URL clients use, e.g. ``https://scim.example.com/scim/v2``; used in
    ``meta.location`` and ``Location``. Empty: derived from each request's own URL."""
    request_budget_seconds: float = 40.0
    """Time one inbound request may take, retries included (Okta gives up at 60 s)."""
    max_body_bytes: int = 1_048_576
    """Largest request body read; larger ones get 413."""
    body_timeout_seconds: float = 10.0
    """Time a client has to send its request body; slower ones get 408."""
    keep_alive_seconds: float = 5.0
    """Idle time before a kept-alive client connection is closed."""
    max_connections: int = 1000
    """Client connections one process holds open; past it, a new one is answered 503 and
    closed unread."""
    max_header_bytes: int = 16_384
    """Largest header block of a request; a larger one is answered 431 and its connection
    closed, unbuffered."""
    header_timeout_seconds: float = 5.0
    """Time a request's header block may take to arrive, from its first byte (or the
    connection's opening); a slower one is answered 408 and its connection closed."""
    shutdown_grace_seconds: float = 20.0
    """On SIGTERM, time in-flight requests get to finish before the process exits."""


@dataclass(frozen=True)
class UpstreamSettings:
    """``[upstream]``: how TelemetryTV is reached."""

    base_url: str = "https://api.telemetrytv.com"
    auth_scheme: AuthScheme = AuthScheme.token
    transport: TransportKind = TransportKind.aiohttp
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    pool_size: int = 100
    page_size: int = 100
    """``per_page`` for the listings the proxy walks (``scim.max_count`` is at most this)."""
    max_concurrent_calls: int = 64
    """Upstream calls one process makes at once, across all requests."""
    retry_attempts: int = 4
    """Attempts of one upstream call, the first included."""
    retry_initial_backoff_seconds: float = 0.2
    retry_max_backoff_seconds: float = 5.0
    breaker_failures: int = 5
    """Consecutive upstream failures that open the circuit breaker."""
    breaker_cooldown_seconds: float = 10.0
    """How long an open breaker answers 503 at once before letting a probe through."""
    insecure_skip_tls_verify: bool = False
    """Skip TLS certificate verification of TelemetryTV: only against a test upstream."""


@dataclass(frozen=True)
class ScimSettings:
    """``[scim]``: SCIM protocol limits."""

    default_count: int = 100
    """``count`` used when a list request gives none."""
    max_count: int = 100
    """The largest SCIM ``count`` served: the one setting for it."""
    filter_scan_limit: int = 2000
    """How many users a filter with no keyed lookup may be evaluated over."""
    max_filter_or_terms: int = 100
    """Terms one filter may join with ``or``: each keyed term can cost an upstream lookup.
    Okta and Entra send none (docs/reliability.md, "Limits")."""
    max_patch_operations: int = 1000
    """Operations one PATCH may hold (Okta sends one per member removed from a group)."""
    max_attribute_values: int = 100
    """Values one request may write to one multi-valued attribute of a user (``emails``,
    ``roles``), summed over a PATCH's operations."""
    max_members_per_write: int = 1000
    """Members one group write may name (a POST's or PUT's list; a PATCH's added, removed
    and replaced members): each new member costs upstream calls."""


@dataclass(frozen=True)
class UserSettings:
    """``[users]``: how SCIM users map onto TelemetryTV users."""

    deactivation: Deactivation = Deactivation.disable


@dataclass(frozen=True)
class GroupSettings:
    """``[groups]``: how membership changes are written (see docs/memberships.md)."""

    member_concurrency: int = 8
    """Membership updates one request runs at once."""
    settle_seconds: float = 1.0
    """Wait after a round of membership writes before reading them back to verify."""
    max_read_age_seconds: float = 0.25
    """A user read older than this is read again before its memberships are written."""
    verify_rounds: int = 6
    """Write-and-verify rounds before a membership change is reported as failed."""
    coordination: Coordination = Coordination.auto
    """How writers of one user's group list coordinate: ``redis``, ``process``, ``verify``,
    or ``auto`` (``redis`` when ``redis_url`` is set, otherwise ``verify``)."""
    redis_url: str = field(default="", repr=False)
    """Redis for ``redis`` coordination, e.g. ``redis://redis:6379/0`` (``rediss://`` for
    TLS; credentials in the URL). Only locks live there: no persistence needed."""
    lock_seconds: float = 30.0
    """Lifetime of a per-user Redis lock; renewed while its holder is alive, so it only
    bounds how long a crashed holder blocks that user. More than the upstream timeouts."""
    lock_wait_seconds: float = 10.0
    """Time a change waits for another writer's lock on the same user before giving up."""
    redis_timeout_seconds: float = 0.5
    """Time a Redis connect or command may take before the change falls back to verify."""


@dataclass(frozen=True)
class RoleSettings:
    """``[roles]``: TelemetryTV user groups as SCIM roles (``/Roles``, users' ``roles``)."""

    enabled: bool = True
    """Serve ``/Roles`` and users' ``roles``; off: neither is published and ``roles`` in
    writes is dropped like any unknown attribute (groups are then managed by push only)."""
    names_cache_seconds: float = 30.0
    """How long this process reuses one listing of the groups' names for the ``display``
    of users' roles (per API token). 0: list the groups on every read that shows roles."""


@dataclass(frozen=True)
class MetricsSettings:
    """``[metrics]``: the Prometheus endpoint."""

    enabled: bool = True
    """Serve ``/metrics``."""
    token: str = ""
    """When set, ``/metrics`` wants ``Authorization: Bearer <token>``."""


@dataclass(frozen=True)
class LoggingSettings:
    """``[logging]``: what the proxy logs and how."""

    level: str = "info"
    format: LogFormat = LogFormat.json
    fingerprint_key: str = ""
    """Key of the token fingerprint in logs (a keyed hash); set the same on every replica
    so a token has one fingerprint everywhere. Empty: a built-in key."""
    include_values: bool = False
    """Log personal values (the filter text) for debugging; off: names and hashes only."""
    log_probes: bool = False
    """Log ``/healthz``, ``/readyz`` and ``/metrics`` requests that succeed at ``info``;
    off: at ``debug``, so probes and scrapes do not fill the log (a failing one keeps its
    warning or error level, and every one is counted in the metrics either way)."""


class TracingMode(StrEnum):
    """Whether OpenTelemetry traces are exported (docs/operations.md, "Traces")."""

    auto = "auto"
    """On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set."""

    on = "on"
    """On, also without those variables: to the SDK's default, ``http://localhost:4318``."""

    off = "off"
    """Off, whatever the variables say."""


@dataclass(frozen=True)
class TracingSettings:
    """``[tracing]``: OpenTelemetry traces; everything else is the standard ``OTEL_*``."""

    mode: TracingMode = TracingMode.auto
    flush_seconds: float = 3.0
    """At shutdown, how long the spans not yet exported may take to leave; a collector
    slower than that loses them (the process stops on time)."""


@dataclass(frozen=True)
class AuthSettings:
    """``[auth]``: which tokens are let in, and throttling of failed authentication."""

    allowed_token_sha256: tuple[str, ...] = ()
    """Hex SHA-256 digests of the TelemetryTV tokens this deployment serves. Empty: every
    well-formed token is forwarded (TelemetryTV decides). Set: any other token gets a 401
    with no upstream call."""
    require_allowlist: bool = False
    """Refuse to start without ``allowed_token_sha256``: on wherever the proxy is reachable
    from the internet (the Kubernetes manifests set it), so a missing or empty secret
    stops the rollout instead of forwarding every stranger's token."""
    failure_limit: int = 20
    """401s a client address may collect within ``failure_window_seconds`` before it is
    answered 429 until the window passes. 0 turns throttling off."""
    failure_window_seconds: float = 60.0
    """The window failures are counted in, from the first failure."""
    max_tracked_clients: int = 10_000
    """Client addresses whose failures are remembered; beyond it the oldest are forgotten."""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    """Addresses or CIDR ranges of the proxies in front (ingress, load balancer) whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed."""

    def __post_init__(self) -> None:
        # Digests are compared as lower-case hex, whatever case they were pasted in.
        digests = tuple(d.strip().lower() for d in self.allowed_token_sha256)
        object.__setattr__(self, "allowed_token_sha256", digests)
        object.__setattr__(self, "trusted_proxies", tuple(p.strip() for p in self.trusted_proxies))


@dataclass(frozen=True)
class Settings:
    """All settings of one proxy process."""

    server: ServerSettings = field(default_factory=ServerSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    scim: ScimSettings = field(default_factory=ScimSettings)
    users: UserSettings = field(default_factory=UserSettings)
    groups: GroupSettings = field(default_factory=GroupSettings)
    roles: RoleSettings = field(default_factory=RoleSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    tracing: TracingSettings = field(default_factory=TracingSettings)

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed, validated again."""
        updated = dataclasses.replace(getattr(self, section), **values)
        settings = dataclasses.replace(self, **{section: updated})
        validate(settings)
        return settings
