"""The ``scim-proxy`` command: ``serve``, ``demo``, ``check``, ``simulator``, ``token-sha256``.

Every command exits quietly, without a traceback: on Ctrl-C with 130 (``check``: its own
documented codes, 130 among them), and when its standard output's reader goes away
(``| head -2``) with 141, a server after draining its requests (``ops/stdout_guard.py``);
``check`` then goes on and cleans up.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
from collections.abc import Iterable, Sequence

from . import __version__
from .demo import DEMO_TOKEN, demo
from .ops.config import ConfigError, LoggingSettings, Settings, load_settings, naming_variables
from .ops.lifecycle import (
    DrainLoggingServer,
    config_source,
    log_startup,
)
from .ops.logging import configure_logging
from .ops.stdout_guard import INTERRUPTED_EXIT, exit_code, guard_stdout, when_stdout_closes
from .ops.tracing import announce_tracing, start_tracing
from .serving import freeze_startup_objects, serve_workers, uvicorn_config, warn_if_insecure
from .simulator.deviations import DEVIATIONS
from .simulator.faults import FAULT_KINDS
from .telemetrytv.probe import Finding


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    server: dict[str, object] = {}
    if args.host is not None:
        server["host"] = args.host
    if args.port is not None:
        server["port"] = args.port
    if getattr(args, "workers", None) is not None:
        server["workers"] = args.workers
    if server:
        settings = settings.replace("server", **server)
    if getattr(args, "upstream", None):
        settings = settings.replace("upstream", base_url=args.upstream)
    return settings


def serve(args: argparse.Namespace) -> int:
    """Run the proxy."""
    from .http.app import create_app

    source = config_source(args.config, os.environ, _flags_given(args))
    settings = _settings(args)
    configure_logging(settings.logging)
    log_startup(settings, source)
    warn_if_insecure(settings)
    announce_tracing(settings)
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; a clean
    # drain is a clean exit.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if settings.server.workers > 1:
        return exit_code(serve_workers(settings, args.config))
    tracing = start_tracing(settings)
    app = create_app(settings, tracing=tracing)
    config = uvicorn_config(app, settings.server.host, settings.server.port, settings)
    # As each of several workers does (serving.app_from_environment).
    freeze_startup_objects()
    server = DrainLoggingServer(config)
    # The log's reader is gone (| head): stop as on SIGTERM, draining what is in flight.
    when_stdout_closes(server.stop)
    try:
        server.run()
    finally:
        if tracing is not None:
            # The lifespan's shutdown flushed already; this covers a start-up that failed
            # after spans were made (a no-op otherwise, never a second wait).
            tracing.close()
    return exit_code(0)


def _flags_given(args: argparse.Namespace) -> list[str]:
    """The ``serve`` flags that override settings (names only)."""
    return [
        f"--{name}"
        for name in ("host", "port", "upstream", "workers")
        if getattr(args, name, None) is not None
    ]


def simulator(args: argparse.Namespace) -> int:
    """Run the TelemetryTV simulator."""
    from .simulator import SimulatorSettings
    from .simulator.server import run_simulator

    try:
        settings = SimulatorSettings(
            token=args.token,
            users=args.users,
            latency_ms=args.latency_ms,
            fail_rate=args.fail_rate,
            fault_kinds=tuple(k.strip() for k in args.faults.split(",") if k.strip()),
            fault_seed=args.fault_seed,
            slow_ms=args.slow_ms,
            commit_delay_ms=args.commit_delay_ms,
            auth_schemes=tuple(a.strip() for a in args.auth_schemes.split(",") if a.strip()),
            paging_header=not args.no_paging_header,
            deviations=tuple(
                name.strip()
                for given in args.deviation or ()
                for name in given.split(",")
                if name.strip()
            ),
            log_requests=args.log_requests,
        )
    except ValueError as exc:
        print(f"scim-proxy simulator: {exc}", file=sys.stderr)
        return 2
    print(f"TelemetryTV simulator on http://{args.host}:{args.port} (token {args.token!r})")
    for name in settings.deviations:
        print(f"deviation {name}: {DEVIATIONS[name]}")
    run_simulator(settings, args.host, args.port)
    return exit_code(0)


def allowlist_finding(digests: Iterable[str], token: str) -> Finding:
    """What ``scim-proxy check`` says about the allowlist, for the token it checked."""
    from .http.auth_guard.allowlist import TokenAllowlist, token_sha256

    allowlist = TokenAllowlist(digests)
    item = "token allowlist (auth.allowed_token_sha256)"
    if not allowlist.enabled:
        return Finding(
            item,
            False,
            "empty: the proxy forwards every well-formed token it receives to TelemetryTV, "
            "so strangers can spend upstream calls on guesses",
            "list the digest of each token this deployment serves: "
            "scim-proxy token-sha256 < token-file, then set auth.allowed_token_sha256 "
            "(or SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256, comma-separated)",
        )
    if allowlist.allows_digest(token_sha256(token)):
        return Finding(item, True, f"{len(allowlist)} token(s) allowed, this one among them")
    return Finding(
        item,
        False,
        f"{len(allowlist)} token(s) allowed, but not this one: the proxy would refuse it with 401",
        "add this token's digest (scim-proxy token-sha256) to auth.allowed_token_sha256, or "
        "check with the token the IdP app uses",
        critical=True,
    )


def check(args: argparse.Namespace) -> int:
    """Check a TelemetryTV account against the contract; non-zero if the proxy cannot work."""
    from .account_check.command import run

    return run(
        args, lambda settings, token: allowlist_finding(settings.auth.allowed_token_sha256, token)
    )


def token_sha256(args: argparse.Namespace) -> int:
    """Print the SHA-256 of the token on stdin, for ``auth.allowed_token_sha256``."""
    from .http.auth import well_formed_token
    from .http.auth_guard.allowlist import token_sha256 as digest_of

    # Never from argv: a command line is visible to every user of the machine and kept in
    # shell history. A terminal gets a prompt that does not echo.
    if sys.stdin.isatty():
        text = getpass.getpass("TelemetryTV API token (not echoed): ")
    else:
        text = sys.stdin.read()
    token = text.strip()
    if not well_formed_token(token):
        scheme, _, rest = token.partition(" ")
        if scheme.lower() in ("bearer", "token", "basic") and well_formed_token(rest.strip()):
            problem = f"give the token alone, without the '{scheme} ' prefix"
        else:
            problem = "stdin holds no token (one line of visible ASCII)"
        print(
            f"scim-proxy token-sha256: {problem}; type it at the prompt, or "
            "`scim-proxy token-sha256 < file-holding-the-token`",
            file=sys.stderr,
        )
        return 2
    print(digest_of(token))
    return exit_code(0)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="scim-proxy", description="A SCIM 2.0 gateway from Okta and Entra ID to TelemetryTV"
    )
    parser.add_argument("--version", action="version", version=f"scim-proxy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the proxy", description="run the proxy")
    serve_cmd.add_argument("--config", help="TOML configuration file (default $SCIM_PROXY_CONFIG)")
    serve_cmd.add_argument("--host", help="address to listen on (server.host)")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (server.port)")
    serve_cmd.add_argument("--upstream", help="TelemetryTV API base URL (upstream.base_url)")
    serve_cmd.add_argument("--workers", type=int, help="worker processes (server.workers)")
    serve_cmd.set_defaults(handler=serve)

    demo_cmd = commands.add_parser(
        "demo",
        help="run the simulator and the proxy together",
        description="run the simulator and the proxy together",
    )
    demo_cmd.add_argument("--config", help="TOML configuration file for the proxy")
    demo_cmd.add_argument("--host", default="127.0.0.1", help="proxy address (127.0.0.1)")
    demo_cmd.add_argument("--port", type=int, default=8080, help="proxy port (8080)")
    demo_cmd.add_argument("--simulator-port", type=int, default=8081, help="simulator port (8081)")
    demo_cmd.add_argument("--token", default=DEMO_TOKEN, help=f"API token ({DEMO_TOKEN})")
    demo_cmd.add_argument("--users", type=int, default=5, help="users to seed (5)")
    demo_cmd.set_defaults(handler=demo)

    check_cmd = commands.add_parser(
        "check",
        help="check a TelemetryTV account against the contract (reads only, unless --write)",
        description="check a TelemetryTV account against the contract: reads only, unless "
        "--write, which also creates, changes and deletes a throwaway user and group through "
        "the proxy's own code and removes whatever it created, whatever happens (exit 0: the "
        "proxy can work with the account; 1: an item failed; 3: something could not be "
        "removed, listed last; 130/143: interrupted)",
    )
    check_cmd.add_argument("--token", help="the account's API token ($SCIM_PROXY_CHECK_TOKEN)")
    check_cmd.add_argument("--upstream", help="TelemetryTV API base URL (upstream.base_url)")
    check_cmd.add_argument("--config", help="TOML configuration file (default $SCIM_PROXY_CONFIG)")
    check_cmd.add_argument(
        "--write",
        action="store_true",
        help="after the read checks pass, also carry out every kind of write the proxy makes "
        "on a throwaway user scim-proxy-check-<random>@DOMAIN and group, read each back, and "
        "remove them",
    )
    check_cmd.add_argument(
        "--domain",
        help="the throwaway user's email domain, with --write (example.invalid; nothing is "
        "sent to it)",
    )
    check_cmd.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (items, what was sent and received, timings; no token "
        "or password) to attach to a support ticket",
    )
    check_cmd.set_defaults(handler=check)

    digest_cmd = commands.add_parser(
        "token-sha256",
        help="print the SHA-256 of the API token read from stdin (for auth.allowed_token_sha256)",
        description="print the SHA-256 of the API token read from stdin (for "
        "auth.allowed_token_sha256): type it at the prompt (not echoed), or redirect a file "
        "holding it; never give it as an argument",
    )
    digest_cmd.set_defaults(handler=token_sha256)

    sim_cmd = commands.add_parser(
        "simulator",
        help="run the TelemetryTV simulator alone",
        description="run the TelemetryTV simulator alone",
    )
    sim_cmd.add_argument("--host", default="127.0.0.1", help="address (127.0.0.1)")
    sim_cmd.add_argument("--port", type=int, default=8081, help="port (8081)")
    sim_cmd.add_argument(
        "--token", default=DEMO_TOKEN, help=f"the one API token accepted ({DEMO_TOKEN})"
    )
    sim_cmd.add_argument("--users", type=int, default=0, help="users to seed (0)")
    sim_cmd.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay added to every request (0)"
    )
    sim_cmd.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of requests meeting a fault, 0-1 (0)"
    )
    sim_cmd.add_argument(
        "--faults",
        default=",".join(FAULT_KINDS),
        help="fault kinds to draw from, comma-separated (all: " + ",".join(FAULT_KINDS) + ")",
    )
    sim_cmd.add_argument("--fault-seed", type=int, default=None, help="seed of the fault draws")
    sim_cmd.add_argument(
        "--auth-schemes",
        default="token,basic",
        help="Authorization schemes accepted: token, basic, bearer (token,basic)",
    )
    sim_cmd.add_argument(
        "--no-paging-header",
        action="store_true",
        help="leave out the Total-Records-Count header (a deviation, for `check`)",
    )
    sim_cmd.add_argument(
        "--slow-ms", type=float, default=1500.0, help="delay of a 'slow' reply (1500)"
    )
    sim_cmd.add_argument(
        "--commit-delay-ms",
        type=float,
        default=1500.0,
        help="delay of a 'commit-timeout' reply, after the write is applied (1500)",
    )
    sim_cmd.add_argument(
        "--deviation",
        action="append",
        metavar="NAME",
        help="answer one inferred write the way a real account might instead, to see "
        "`check --write` catch it (repeatable or comma-separated): " + ", ".join(DEVIATIONS),
    )
    sim_cmd.add_argument(
        "--log-requests",
        action="store_true",
        help="print each request's method and path on stdout as it arrives",
    )
    sim_cmd.set_defaults(handler=simulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scim-proxy`` command."""
    guard_stdout()
    try:
        args = build_parser().parse_args(argv)
        code: int = args.handler(args)
    except ConfigError as exc:
        configure_logging(LoggingSettings())
        print(f"scim-proxy: configuration error: {naming_variables(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C outside a command's own handling (a server re-raises it once drained).
        if sys.stderr.isatty():
            print(file=sys.stderr)  # the shell's prompt on a line of its own, after ^C
        return INTERRUPTED_EXIT
    return code
