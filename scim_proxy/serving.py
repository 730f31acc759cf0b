"""Running the proxy under uvicorn: one process, or a supervisor of worker processes.

``scim-proxy serve`` (cli.py) reads the settings and picks one of the two; ``scim-proxy
demo`` (demo.py) runs one process beside the simulator with the same uvicorn options.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
import uvicorn

from .connections import answered_tracking, connection_limits, guarded_protocol, worker_limits
from .ops.config import CONFIG_ENV, ServerSettings, Settings
from .ops.metrics import MULTIPROC_ENV
from .ops.stdout_guard import guard_stdout, when_stdout_closes

_LOOP = "uvloop" if sys.platform != "win32" else "asyncio"


def _options(server: ServerSettings) -> dict[str, Any]:
    """uvicorn's options for both ways of serving, but the app and the protocol class."""
    return {
        "loop": _LOOP,
        "access_log": False,
        "log_level": "warning",
        # The app wraps itself in uvicorn's proxy-headers middleware, fed auth.trusted_proxies
        # (http/pipeline.py): one setting decides the client address, in any server.
        "proxy_headers": False,
        "timeout_keep_alive": max(1, round(server.keep_alive_seconds)),
        # SIGTERM: stop accepting, let in-flight requests finish, then exit.
        "timeout_graceful_shutdown": max(1, round(server.shutdown_grace_seconds)),
    }


def uvicorn_config(
    app: object, host: str, port: int, settings: Settings | None = None
) -> uvicorn.Config:
    """uvicorn's options for one in-process server of ``app``.

    Connections are served by uvicorn's httptools protocol behind the limits of
    ``[server]`` (``connections.py``: connection cap, header size and time), chosen by
    measurement over uvicorn's h11 protocol and other servers (docs/decisions.md).
    """
    server = (settings or Settings()).server
    limits = connection_limits(server)
    return uvicorn.Config(
        answered_tracking(app, limits),  # type: ignore[arg-type]
        host=host,
        port=port,
        http=guarded_protocol(limits),
        lifespan="on",
        **_options(server),
    )


def app_from_environment() -> object:
    """A worker's app (``serve --workers``): settings from ``$SCIM_PROXY_CONFIG`` and the
    environment, its start-up objects frozen as the one-process ``serve`` freezes them,
    and its connections told when each request has been answered (``connections.py``)."""
    from .http.app import create_app
    from .ops.config import load_settings
    from .ops.logging import configure_logging
    from .ops.metrics import forget_this_worker
    from .ops.tracing import start_tracing

    settings = load_settings()
    guard_stdout()
    # The log's reader is gone (serve --workers N | head): the supervisor stops every
    # worker as on SIGTERM (one stopping alone would only be started again).
    when_stdout_closes(lambda: os.kill(os.getppid(), signal.SIGTERM))
    configure_logging(settings.logging)
    atexit.register(forget_this_worker)
    # Each worker its own tracer, flushed by its own lifespan's shutdown (the supervisor
    # announced tracing once, beside startup).
    app = answered_tracking(create_app(settings, tracing=start_tracing(settings)), worker_limits())
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Keep everything built before serving out of the garbage collector's passes.

    Modules, scim2-models' schemas and the app live as long as the process; left in the
    collector's generations, every full pass walks them all again (about twice the
    forwarder's heap). Measured under load with one process: the collector took about
    64 µs of CPU per GET by id against the forwarder's 26 (docs/performance.md). Garbage
    left over from start-up is collected first, so that none of it is kept for good.
    """
    gc.collect()
    gc.freeze()


def warn_if_insecure(settings: Settings) -> None:
    """Say loudly, in the log and on stderr, that TelemetryTV's certificate is not verified."""
    if settings.upstream.insecure_skip_tls_verify:
        message = (
            "upstream.insecure_skip_tls_verify is ON: TelemetryTV's TLS certificate is NOT "
            "verified, so the API token can be intercepted. Use this only against a test upstream."
        )
        structlog.get_logger("scim_proxy").warning("tls_verification_disabled", detail=message)
        print(f"scim-proxy: WARNING: {message}", file=sys.stderr, flush=True)


def serve_workers(settings: Settings, config_path: str | None) -> int:
    """Run ``settings.server.workers`` processes; each loads the same settings."""
    # Workers read their settings from the environment: pass on what flags changed.
    overrides = {
        "SCIM_PROXY_SERVER_HOST": settings.server.host,
        "SCIM_PROXY_SERVER_PORT": str(settings.server.port),
        "SCIM_PROXY_SERVER_WORKERS": str(settings.server.workers),
        "SCIM_PROXY_UPSTREAM_BASE_URL": settings.upstream.base_url,
    }
    if config_path:
        overrides[CONFIG_ENV] = str(Path(config_path).resolve())
    os.environ.update(overrides)
    # Every worker writes its metrics here; /metrics sums them (ops/metrics.py).
    os.environ.setdefault(MULTIPROC_ENV, tempfile.mkdtemp(prefix="scim-proxy-metrics-"))
    server = settings.server
    started = time.monotonic()
    uvicorn.run(
        "scim_proxy.serving:app_from_environment",
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        # Named by import path: each worker builds its limits from the same settings.
        http="scim_proxy.connections:WorkerConnection",
        **_options(server),
    )
    # Each worker drains its own requests; the supervisor only sees them all exit.
    structlog.get_logger("scim_proxy.lifecycle").info(
        "shutdown", workers=server.workers, uptime_seconds=round(time.monotonic() - started, 3)
    )
    return 0
