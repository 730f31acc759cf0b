"""What ``serve`` says when it starts and when it stops.

One ``startup`` event names what the process runs with (never a secret), so an operator
sees the listen address, the upstream and the modes in force before the first request;
one ``shutdown`` event per server process says how the in-flight requests were drained.
A setting that is risky where the proxy listens gets a warning event of its own beside it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

import structlog
import uvicorn

from .. import __version__
from .config import (
    CONFIG_ENV,
    ENV_PREFIX,
    Coordination,
    Settings,
    coordination_mode,
    redis_url_for_logs,
)
from .redaction import url_without_credentials

log = structlog.get_logger("scim_proxy.lifecycle")


def config_source(
    path: str | None, environ: Mapping[str, str], flags: Sequence[str] = ()
) -> dict[str, Any]:
    """Where the settings came from: the file, the variables and flags that override it.

    Names only: a variable's value may be a secret (``SCIM_PROXY_METRICS_TOKEN``).
    """
    file = path or environ.get(CONFIG_ENV) or None
    return {
        "config_file": file,
        "config_env_overrides": sorted(
            name for name in environ if name.startswith(ENV_PREFIX) and name != CONFIG_ENV
        ),
        "config_flags": list(flags),
    }


def log_startup(settings: Settings, source: Mapping[str, Any]) -> None:
    """Log the one ``startup`` event of ``serve``: what this proxy runs with."""
    server, upstream = settings.server, settings.upstream
    coordination = coordination_mode(settings)
    log.info(
        "startup",
        version=__version__,
        listen=f"{server.host}:{server.port}",
        workers=server.workers,
        upstream_base_url=url_without_credentials(upstream.base_url),
        upstream_auth_scheme=upstream.auth_scheme.value,
        # Only an https:// upstream has a certificate to verify (or not).
        upstream_tls_verified=not upstream.insecure_skip_tls_verify
        if upstream.base_url.lower().startswith("https://")
        else None,
        deactivation=settings.users.deactivation.value,
        membership_coordination=coordination.value,
        membership_redis_url=redis_url_for_logs(settings.groups.redis_url)
        if coordination is Coordination.redis
        else None,
        token_allowlist=len(settings.auth.allowed_token_sha256) or "off",
        trusted_proxies=list(settings.auth.trusted_proxies),
        public_base_url=url_without_credentials(server.public_base_url) or "derived per request",
        metrics="off"
        if not settings.metrics.enabled
        else ("on, behind a scrape token" if settings.metrics.token else "on"),
        log_level=settings.logging.level,
        **source,
    )
    if coordination is Coordination.verify:
        log.warning(
            "membership_writes_wait",
            membership_coordination=coordination.value,
            settle_seconds=settings.groups.settle_seconds,
            detail=verify_wait_detail(settings),
        )
    if not server.public_base_url and not loopback_only(server.host):
        log.warning(
            "public_base_url_unset",
            listen=f"{server.host}:{server.port}",
            detail=(
                "server.public_base_url is not set and the proxy listens beyond loopback: "
                "meta.location and Location are built from each request's Host header, "
                "which any client chooses. Set server.public_base_url to the SCIM base URL "
                "the IdP uses (e.g. https://scim.example.com/scim/v2)."
            ),
        )


def verify_wait_detail(settings: Settings) -> str:
    """Why membership writes are slow in ``verify`` coordination, and how to avoid it."""
    seconds = settings.groups.settle_seconds
    avoid = "set groups.redis_url (a Redis shared by every process)"
    if settings.server.workers == 1:
        # process coordination is refused with several workers: offer it only with one.
        avoid += (
            ", or, when this is exactly one process and the only one writing to this "
            'TelemetryTV account, groups.coordination = "process"'
        )
    why = (
        "groups.coordination = verify"
        if Coordination(settings.groups.coordination) is Coordination.verify
        else "no groups.redis_url is set"
    )
    return (
        f"Membership coordination is verify ({why}): every group membership "
        f"or role write waits groups.settle_seconds ({seconds:g} s) to verify itself, so a "
        f"one-member group push takes at least that long. To avoid the wait, {avoid} "
        "(docs/memberships.md)."
    )


def loopback_only(host: str) -> bool:
    """Whether listening on ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: whatever it resolves to may be reachable


class DrainLoggingServer(uvicorn.Server):
    """uvicorn's server, logging how its shutdown drained the requests in flight."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._signalled_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Note when the first stop signal came, then let uvicorn stop as usual."""
        if self._signalled_at is None:
            self._signalled_at = time.monotonic()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Stop as on SIGTERM (draining in-flight requests), for a reason other than a
        signal: the log's reader went away."""
        if self._signalled_at is None:
            self._signalled_at = time.monotonic()
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, drain in-flight requests (uvicorn's own shutdown), log the outcome."""
        started = self._signalled_at or time.monotonic()
        shutdown_began = time.monotonic()
        in_flight = list(self.server_state.tasks)
        finished: list[float] = []
        for task in in_flight:
            task.add_done_callback(lambda _: finished.append(time.monotonic()))
        grace = self.config.timeout_graceful_shutdown
        try:
            await super().shutdown(sockets)
        finally:
            # uvicorn waits 0.1 s after closing connections, then up to the grace period,
            # then cancels what is left: a request done by then was drained.
            deadline = None if grace is None else shutdown_began + 0.1 + grace
            drained = sum(1 for at in finished if deadline is None or at <= deadline)
            log.info(
                "shutdown",
                in_flight=len(in_flight),
                drained=drained,
                cut_off=len(in_flight) - drained,
                drain_seconds=round(max(finished) - started, 3) if finished else 0.0,
                grace_seconds=grace,
            )
