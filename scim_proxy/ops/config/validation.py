"""Checking the settings: a value that cannot work stops start-up with a :class:`ConfigError`
naming the setting and the fix."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .coordination import check_coordination

if TYPE_CHECKING:
    from .sections import AuthSettings, Settings


class ConfigError(ValueError):
    """A setting that cannot work; the message names it and says how to fix it."""


MAX_REQUEST_BUDGET_SECONDS = 600
"""The largest ``server.request_budget_seconds`` allowed: no request runs longer."""
_LOG_LEVELS = ("debug", "info", "warning", "error")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


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
    if "@" in urlsplit(upstream.base_url).netloc:
        # The URL is not echoed: it carries a secret. Each call signs in with the token of
        # the request it serves; credentials in the URL would compete with it (aiohttp
        # refuses to send both).
        raise ConfigError(
            "upstream.base_url must not carry credentials (user:password@): the proxy signs "
            "in to TelemetryTV with each request's API token; remove them from the URL"
        )
    for name in ("connect_timeout", "read_timeout"):
        value = getattr(upstream, name)
        if not 0 < value <= 300:
            raise ConfigError(f"upstream.{name} = {value} is not valid: use 0 < seconds <= 300")
    for name, low, high in (
        ("request_budget_seconds", 1, MAX_REQUEST_BUDGET_SECONDS),
        ("body_timeout_seconds", 0.1, 600),
        ("keep_alive_seconds", 0.1, 600),
        ("header_timeout_seconds", 0.5, 600),
        ("shutdown_grace_seconds", 0, 600),
    ):
        value = getattr(server, name)
        if not low <= value <= high:
            raise ConfigError(f"server.{name} = {value} is not valid: use {low} to {high}")
    if not 1024 <= server.max_body_bytes <= 100 * 1_048_576:
        raise ConfigError(
            f"server.max_body_bytes = {server.max_body_bytes} is not valid: use 1024 to 104857600"
        )
    if not 1 <= server.max_connections <= 1_000_000:
        raise ConfigError(
            f"server.max_connections = {server.max_connections} is not valid: use 1 to 1000000"
        )
    if not 1024 <= server.max_header_bytes <= 1_048_576:
        raise ConfigError(
            f"server.max_header_bytes = {server.max_header_bytes} is not valid: use 1024 to 1048576"
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
    for name, high in (
        ("max_filter_or_terms", 1000),
        ("max_patch_operations", 100_000),
        ("max_attribute_values", 100_000),
        ("max_members_per_write", 100_000),
    ):
        value = getattr(scim, name)
        if not 1 <= value <= high:
            raise ConfigError(f"scim.{name} = {value} is not valid: use 1 to {high}")
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
    if not 0 <= settings.roles.names_cache_seconds <= 3600:
        raise ConfigError(
            f"roles.names_cache_seconds = {settings.roles.names_cache_seconds} is not valid: "
            "use 0 to 3600"
        )
    check_coordination(settings)
    if settings.logging.level.lower() not in _LOG_LEVELS:
        raise ConfigError(
            f"logging.level = {settings.logging.level!r} is not valid: use one of "
            + ", ".join(_LOG_LEVELS)
        )
    _validate_auth(settings.auth)
    if not 0 < settings.tracing.flush_seconds <= 60:
        raise ConfigError(
            f"tracing.flush_seconds = {settings.tracing.flush_seconds} is not valid: use "
            "0 < seconds <= 60 (within the pod's termination grace, after the drain)"
        )


def _validate_auth(auth: AuthSettings) -> None:
    # Digests are not echoed: an error message may end up in a ticket or a CI log.
    for number, digest in enumerate(auth.allowed_token_sha256, start=1):
        if not _SHA256_HEX.fullmatch(digest):
            raise ConfigError(
                f"auth.allowed_token_sha256 entry {number} is not a SHA-256 digest: use the 64 "
                'hex characters `scim-proxy token-sha256` (or `printf %s "$TOKEN" | '
                "sha256sum`, without its trailing ' -') prints for each token"
            )
    if auth.require_allowlist and not auth.allowed_token_sha256:
        raise ConfigError(
            "auth.require_allowlist is on but auth.allowed_token_sha256 lists no digest: set "
            "the digests of the tokens this deployment serves (`scim-proxy token-sha256 < "
            "token-file`), or turn auth.require_allowlist off to forward every token"
        )
    if not 0 <= auth.failure_limit <= 100_000:
        raise ConfigError(
            f"auth.failure_limit = {auth.failure_limit} is not valid: use 1 to 100000, or 0 to "
            "turn throttling off"
        )
    if not 1 <= auth.failure_window_seconds <= 86_400:
        raise ConfigError(
            f"auth.failure_window_seconds = {auth.failure_window_seconds} is not valid: use 1 "
            "to 86400"
        )
    if not 100 <= auth.max_tracked_clients <= 10_000_000:
        raise ConfigError(
            f"auth.max_tracked_clients = {auth.max_tracked_clients} is not valid: use 100 to "
            "10000000"
        )
    for proxy in auth.trusted_proxies:
        try:
            network = ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"auth.trusted_proxies entry {proxy[:64]!r} is not valid: use IP addresses or "
                "CIDR ranges of the ingress or load balancer in front of the proxy (not '*': "
                "anyone could then choose the address they are throttled under)"
            ) from None
        if "/" not in proxy:
            continue
        try:
            ipaddress.ip_network(proxy)
        except ValueError:
            # uvicorn's proxy-headers middleware parses ranges strictly and silently skips
            # one with host bits set, so X-Forwarded-For from it would be ignored.
            raise ConfigError(
                f"auth.trusted_proxies entry {proxy!r} has host bits set, so it would match no "
                f"peer and X-Forwarded-For would be ignored: use {network} for the range, or "
                f"{proxy.split('/')[0]} for that one address"
            ) from None
