"""Configuration: a TOML file, overridden key by key by environment variables.

Every key lives in a section (``[upstream] base_url``) and can be overridden by
``SCIM_PROXY_<SECTION>_<KEY>`` (``SCIM_PROXY_UPSTREAM_BASE_URL``). A value that cannot
work stops start-up with a :class:`ConfigError` naming the setting and the fix.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from ..telemetrytv.auth import AuthScheme
from ..telemetrytv.transport import TransportKind

ENV_PREFIX = "SCIM_PROXY_"
CONFIG_ENV = "SCIM_PROXY_CONFIG"


class ConfigError(ValueError):
    """A setting that cannot work; the message names it and says how to fix it."""


class Deactivation(StrEnum):
    """What ``active: false`` does to the TelemetryTV user."""

    disable = "disable"
    """Set the user's ``disabled`` flag; the user stays readable (Okta expects this)."""

    delete = "delete"
    """Delete the user; a later reactivation cannot bring it back."""


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
    """``per_page`` for the listings the proxy walks, and the largest SCIM ``count``."""
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
    max_count: int = 100
    filter_scan_limit: int = 2000
    """How many users a filter with no keyed lookup may be evaluated over."""


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


@dataclass(frozen=True)
class Settings:
    """All settings of one proxy process."""

    server: ServerSettings = field(default_factory=ServerSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    scim: ScimSettings = field(default_factory=ScimSettings)
    users: UserSettings = field(default_factory=UserSettings)
    groups: GroupSettings = field(default_factory=GroupSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed, validated again."""
        updated = dataclasses.replace(getattr(self, section), **values)
        settings = dataclasses.replace(self, **{section: updated})
        validate(settings)
        return settings


_LOG_LEVELS = ("debug", "info", "warning", "error")


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (``path``, else ``$SCIM_PROXY_CONFIG``, else none) and the environment."""
    environ = os.environ if environ is None else environ
    named_by = "--config"
    if not path and environ.get(CONFIG_ENV):
        path, named_by = environ[CONFIG_ENV], CONFIG_ENV
    data: dict[str, Any] = {}
    if path:
        try:
            with Path(path).open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(
                f"Configuration file {str(path)!r} (from {named_by}) does not exist: "
                f"fix the path, or unset {named_by}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"Configuration file {str(path)!r} is not valid TOML: {exc}"
            ) from None
    sections: dict[str, Any] = {}
    for section_field in fields(Settings):
        section_type = get_type_hints(Settings)[section_field.name]
        raw = data.pop(section_field.name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"[{section_field.name}] must be a table of keys")
        sections[section_field.name] = _section(section_field.name, section_type, raw, environ)
    if data:
        raise ConfigError(
            f"Unknown configuration section(s): {', '.join(sorted(data))}; "
            f"known sections are {', '.join(f.name for f in fields(Settings))}"
        )
    _refuse_unknown_variables(environ)
    settings = Settings(**sections)
    validate(settings)
    return settings


def _platform_variable(name: str) -> bool:
    """Kubernetes' service-link variables (``SCIM_PROXY_METRICS_SERVICE_HOST``...)."""
    return "_SERVICE_" in name or name.endswith("_PORT") or "_PORT_" in name


def _refuse_unknown_variables(environ: Mapping[str, str]) -> None:
    """A mistyped override would be silently ignored: refuse it, as unknown file keys are."""
    # Only names shaped like an override count: Kubernetes, for one, injects
    # SCIM_PROXY_PORT and SCIM_PROXY_SERVICE_HOST for a Service named scim-proxy.
    known: set[str] = set()
    prefixes = []
    for section_field in fields(Settings):
        section_type = get_type_hints(Settings)[section_field.name]
        prefix = f"{ENV_PREFIX}{section_field.name}_".upper()
        prefixes.append(prefix)
        known |= {f"{prefix}{f.name}".upper() for f in fields(section_type)}
    unknown = sorted(
        k
        for k in environ
        if k.upper().startswith(tuple(prefixes))
        and k.upper() not in known
        and not _platform_variable(k.upper())
    )
    if unknown:
        raise ConfigError(
            f"Unknown environment variable(s) {', '.join(unknown)}: check the spelling against "
            "config.example.toml (SCIM_PROXY_<SECTION>_<KEY>)"
        )


def _section(name: str, section_type: Any, raw: dict[str, Any], environ: Mapping[str, str]) -> Any:
    hints = get_type_hints(section_type)
    known = {f.name for f in fields(section_type)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in [{name}]: {', '.join(sorted(unknown))}; "
            f"known keys are {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for key in known:
        env_name = f"{ENV_PREFIX}{name}_{key}".upper()
        if env_name in environ:
            values[key] = _coerce(f"{env_name}", hints[key], environ[env_name], from_env=True)
        elif key in raw:
            values[key] = _coerce(f"{name}.{key}", hints[key], raw[key], from_env=False)
    return section_type(**values)


def _coerce(setting: str, kind: Any, value: Any, *, from_env: bool) -> Any:
    if isinstance(kind, type) and issubclass(kind, Enum):
        choices = ", ".join(str(m.value) for m in kind)
        try:
            return kind(str(value).strip().lower())
        except ValueError:
            raise ConfigError(f"{setting} = {value!r} is not valid: use one of {choices}") from None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).strip().lower() in ("1", "true", "yes", "on"):
            return True
        if from_env and str(value).strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{setting} = {value!r} is not valid: use true or false")
    if kind is int or kind is float:
        what = "a whole number" if kind is int else "a number of seconds"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if kind is int and not isinstance(value, int):
                raise ConfigError(f"{setting} = {value!r} is not valid: use {what}")
            return kind(value)
        if from_env:
            try:
                return kind(str(value).strip())
            except ValueError:
                pass
        raise ConfigError(f"{setting} = {value!r} is not valid: use {what}")
    if not isinstance(value, str):
        raise ConfigError(f"{setting} = {value!r} is not valid: use a string")
    return value


def _check_url(setting: str, value: str, *, fix: str) -> None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{setting} = {value!r} is not a valid URL: {fix}") from None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{setting} = {value!r} has an invalid port: {fix}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{setting} = {value!r} is not an http(s) URL: {fix}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{setting} = {value!r} must not carry a query or fragment: {fix}")


def validate(settings: Settings) -> None:
    """Raise :class:`ConfigError` for the first setting that cannot work."""
    server, upstream, scim = settings.server, settings.upstream, settings.scim
    if not 1 <= server.workers <= 64:
        raise ConfigError(f"server.workers = {server.workers} is not valid: use 1 to 64")
    if not 0 < server.port < 65536:
        raise ConfigError(f"server.port = {server.port} is not valid: use 1 to 65535")
    if server.public_base_url:
        _check_url(
            "server.public_base_url",
            server.public_base_url,
            fix="set the URL Okta or Entra uses, e.g. https://scim.example.com/scim/v2",
        )
    _check_url(
        "upstream.base_url",
        upstream.base_url,
        fix="set TelemetryTV's API URL, e.g. https://api.telemetrytv.com",
    )
    for name in ("connect_timeout", "read_timeout"):
        value = getattr(upstream, name)
        if not 0 < value <= 300:
            raise ConfigError(f"upstream.{name} = {value} is not valid: use 0 < seconds <= 300")
    for name, low, high in (
        ("request_budget_seconds", 1, 600),
        ("body_timeout_seconds", 0.1, 600),
        ("keep_alive_seconds", 0.1, 600),
        ("shutdown_grace_seconds", 0, 600),
    ):
        value = getattr(server, name)
        if not low <= value <= high:
            raise ConfigError(f"server.{name} = {value} is not valid: use {low} to {high}")
    if not 1024 <= server.max_body_bytes <= 100 * 1_048_576:
        raise ConfigError(
            f"server.max_body_bytes = {server.max_body_bytes} is not valid: use 1024 to 104857600"
        )
    if not 1 <= upstream.max_concurrent_calls <= 10_000:
        raise ConfigError(
            f"upstream.max_concurrent_calls = {upstream.max_concurrent_calls} is not valid: "
            "use 1 to 10000"
        )
    if not 1 <= upstream.retry_attempts <= 20:
        raise ConfigError(
            f"upstream.retry_attempts = {upstream.retry_attempts} is not valid: use 1 to 20"
        )
    if not 0 < upstream.retry_initial_backoff_seconds <= upstream.retry_max_backoff_seconds <= 120:
        raise ConfigError(
            "upstream.retry_initial_backoff_seconds and retry_max_backoff_seconds are not "
            "valid: use 0 < initial <= max <= 120"
        )
    if not 1 <= upstream.breaker_failures <= 1000:
        raise ConfigError(
            f"upstream.breaker_failures = {upstream.breaker_failures} is not valid: use 1 to 1000"
        )
    if not 0.1 <= upstream.breaker_cooldown_seconds <= 600:
        raise ConfigError(
            f"upstream.breaker_cooldown_seconds = {upstream.breaker_cooldown_seconds} is not "
            "valid: use 0.1 to 600"
        )
    if not 1 <= upstream.pool_size <= 10_000:
        raise ConfigError(f"upstream.pool_size = {upstream.pool_size} is not valid: use 1 to 10000")
    if not 1 <= upstream.page_size <= 1000:
        raise ConfigError(f"upstream.page_size = {upstream.page_size} is not valid: use 1 to 1000")
    if not 1 <= scim.max_count <= upstream.page_size:
        raise ConfigError(
            f"scim.max_count = {scim.max_count} is not valid: use 1 to upstream.page_size "
            f"({upstream.page_size}), so that one SCIM page costs at most two upstream pages"
        )
    if not 0 <= scim.default_count <= scim.max_count:
        raise ConfigError(
            f"scim.default_count = {scim.default_count} is not valid: use 0 to scim.max_count "
            f"({scim.max_count})"
        )
    if not 0 <= scim.filter_scan_limit <= 1_000_000:
        raise ConfigError(
            f"scim.filter_scan_limit = {scim.filter_scan_limit} is not valid: use 0 to 1000000"
        )
    groups = settings.groups
    if not 1 <= groups.member_concurrency <= 100:
        raise ConfigError(
            f"groups.member_concurrency = {groups.member_concurrency} is not valid: use 1 to 100"
        )
    if not 0 < groups.max_read_age_seconds < groups.settle_seconds <= 30:
        raise ConfigError(
            f"groups.settle_seconds = {groups.settle_seconds} and groups.max_read_age_seconds = "
            f"{groups.max_read_age_seconds} are not valid: use 0 < max_read_age_seconds < "
            "settle_seconds <= 30, so a verifying read comes after any concurrent write"
        )
    if not 1 <= groups.verify_rounds <= 10:
        raise ConfigError(
            f"groups.verify_rounds = {groups.verify_rounds} is not valid: use 1 to 10"
        )
    if settings.logging.level.lower() not in _LOG_LEVELS:
        raise ConfigError(
            f"logging.level = {settings.logging.level!r} is not valid: use one of "
            + ", ".join(_LOG_LEVELS)
        )
