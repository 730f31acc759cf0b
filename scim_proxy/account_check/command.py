"""``scim-proxy check``: the read checks, then with ``--write`` the write check, reported.

The read checks (``telemetrytv/probe.py``) run first; the write check runs only when none
of the account's read checks failed. Whatever the write check created is removed at the
end, also after a failure or an interruption (``ledger.py``, ``interrupts.py``). The
report is printed item by item as readable lines, or at the end as one JSON object
(``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import httpx
import orjson
import structlog

from .. import __version__
from ..ops.config import Coordination, Deactivation, Settings, load_settings
from ..ops.logging import configure_logging
from ..ops.redaction import url_without_credentials
from ..telemetrytv.auth import authorization_header
from ..telemetrytv.probe import Finding, run_probe
from ..telemetrytv.recording import ExchangeLog
from ..telemetrytv.transport import build_http_client
from ..translation.memberships import Coordinator, MembershipWriter
from ..translation.passwords import generate_password
from .interrupts import Interrupts
from .ledger import Ledger
from .report import Item, Report, Status, closing_lines, item_lines, report_json
from .step_texts import BUG_FIX, unexpected
from .throwaway import Throwaway
from .write_steps import WriteCheck

DEFAULT_DOMAIN = "example.invalid"
_DOMAIN = re.compile(
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _read_items(findings: Iterable[Finding]) -> list[Item]:
    return [
        Item(
            "read",
            f.item,
            Status.PASS if f.passed else (Status.FAIL if f.critical else Status.WARN),
            f.detail,
            f.fix,
        )
        for f in findings
    ]


def _write_settings(settings: Settings) -> Settings:
    """The settings the write check writes memberships under.

    ``process`` coordination: the check is the only writer of its throwaway user, so the
    proxy's own read-modify-write under this process's lock is the write to prove, and
    neither Redis nor a settle wait has a part in it.
    """
    return settings.replace("server", workers=1).replace(
        "groups", coordination=Coordination.process, redis_url=""
    )


async def check_account(
    http: httpx.AsyncClient,
    settings: Settings,
    token: str,
    *,
    write: bool,
    domain: str = DEFAULT_DOMAIN,
    interrupts: Interrupts | None = None,
    emit: Callable[[list[str]], None] = lambda lines: None,
    extra_findings: Iterable[Finding] = (),
    passwords: Callable[[], str] | None = None,
) -> tuple[Report, ExchangeLog]:
    """Check the account ``settings.upstream`` names, through ``http``; with ``write``, also
    every kind of write. ``emit`` gets each item's readable lines as it is decided;
    ``passwords`` makes the throwaway user's passwords (strong random ones by default).
    Returns the report and the exchange log whose ``redact`` every output must go through."""
    run = _Run(http, settings, token, Throwaway.new(domain), interrupts or Interrupts(), emit)
    run.report.write = write
    read_checks = run.read_phase(extra_findings)
    if await run.interrupts.run(read_checks) and write:
        await run.write_phase(passwords or generate_password)
    return run.finish(), run.log


class _Run:
    """One run of the check: its report, its exchange log, its interruptions."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        token: str,
        throwaway: Throwaway,
        interrupts: Interrupts,
        emit: Callable[[list[str]], None],
    ) -> None:
        self.http = http
        self.settings = settings
        self.token = token
        self.throwaway = throwaway
        self.interrupts = interrupts
        self.emit = emit
        self.started = time.perf_counter()
        self.account_failed = False
        upstream = settings.upstream
        header = authorization_header(upstream.auth_scheme, token)
        self.log = ExchangeLog(
            secrets=(token, header, header.partition(" ")[2]), marker=throwaway.tag
        )
        self.report = Report(
            version=__version__,
            base_url=url_without_credentials(upstream.base_url),
            auth_scheme=upstream.auth_scheme.value,
            started_at=datetime.now(UTC),
            write=False,
        )

    def add(self, item: Item) -> None:
        """Note an item, and show it."""
        self.report.items.append(item)
        self.emit(item_lines(item, self.log.redact))

    async def read_phase(self, extra_findings: Iterable[Finding]) -> None:
        """The read checks (reads only, not recorded: listings hold other people's data)."""
        upstream = self.settings.upstream
        findings = await run_probe(self.http, upstream.base_url, self.token, upstream.auth_scheme)
        # The proxy's own findings (the allowlist) say nothing about the account.
        self.account_failed = any(f.critical and not f.passed for f in findings)
        for item in _read_items([*findings, *extra_findings]):
            self.add(item)

    async def write_phase(self, passwords: Callable[[], str]) -> None:
        """The write check, unless a read check failed, then the clean-up in any case."""
        from ..http.app import build_upstream

        settings = _write_settings(self.settings)
        budget = settings.server.request_budget_seconds
        recording = self.log.transport(self.http)
        ledger = Ledger()
        session = build_upstream(settings, recording).session(self.token)
        steps = WriteCheck(
            session,
            MembershipWriter(session, settings.groups, Coordinator(settings)),
            self.log,
            ledger,
            self.throwaway,
            deactivation_deletes=Deactivation(settings.users.deactivation) is Deactivation.delete,
            budget=budget,
            passwords=passwords,
            on_item=self.add,
        )
        if self.account_failed:
            steps.not_run("the read checks failed, so nothing was written")
            return
        self.report.throwaway = {"user": self.throwaway.email, "group": self.throwaway.group}
        try:
            if not await self.interrupts.run(steps.run()):
                steps.not_run(f"not run: interrupted by {_name(self.interrupts)}")
        except Exception as exc:  # a bug outside any one item: clean up all the same
            self.add(Item("write", "the check itself", Status.FAIL, unexpected(exc), BUG_FIX))
            steps.not_run("not run: the check stopped")
        # A fresh adapter: the checks' circuit breaker, opened by a failing account, must
        # not stop the clean-up before it tries.
        cleaner = build_upstream(settings, recording).session(self.token)
        if ledger.outstanding():
            self.emit(["Removing what the check created (a second Ctrl-C stops this)"])
        mark = self.log.mark()
        cleaned = await self.interrupts.run(ledger.clean(cleaner, budget), tolerates=1)
        self.report.cleanup = self.log.since(mark)
        self.report.leftovers = ledger.leftovers(None if cleaned else _name(self.interrupts))

    def finish(self) -> Report:
        """The report, with its duration and any interruption."""
        report = self.report
        report.ms = (time.perf_counter() - self.started) * 1000
        first = self.interrupts.first
        if first is not None:
            report.interrupted = first.name
            report.interrupt_code = 128 + int(first)
        return report


def _name(interrupts: Interrupts) -> str:
    return interrupts.first.name if interrupts.first is not None else "a signal"


def run(args: argparse.Namespace, allowlist: Callable[[Settings, str], Finding]) -> int:
    """The ``check`` command: 0 when the proxy can work with the account (see Report)."""
    settings = load_settings(args.config)
    if args.upstream:
        settings = settings.replace("upstream", base_url=args.upstream)
    token = args.token or os.environ.get("SCIM_PROXY_CHECK_TOKEN", "")
    problem = ""
    if not token:
        problem = "give the API token with --token (or SCIM_PROXY_CHECK_TOKEN)"
    elif args.domain is not None and not args.write:
        problem = "--domain names the throwaway user's domain: it needs --write"
    elif args.domain is not None and not _DOMAIN.fullmatch(args.domain):
        problem = f"--domain {args.domain!r} is not a domain name such as example.com"
    if problem:
        print(f"scim-proxy check: {problem}", file=sys.stderr)
        return 2
    # Log events go to stderr: stdout is the report. The report shows every exchange, so
    # below warning (an upstream_call per expected 404) only at logging.level = "debug".
    level = settings.logging.level.lower()
    configure_logging(
        dataclasses.replace(settings.logging, level=level if level == "debug" else "warning")
        if level in ("debug", "info")
        else settings.logging
    )
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.stderr))
    return asyncio.run(_main(args, settings, token, allowlist(settings, token))).exit_code()


async def _main(
    args: argparse.Namespace, settings: Settings, token: str, allowlist: Finding
) -> Report:
    upstream = settings.upstream

    printer = _Printer(quiet=args.json)
    emit = printer.lines

    interrupts = Interrupts()
    with interrupts.from_signals():
        where = url_without_credentials(upstream.base_url)
        mode = "writing to the account (--write)" if args.write else "reads only"
        emit(
            ExchangeLog(secrets=(token,)).redact(
                [f"Checking {where} (auth scheme {upstream.auth_scheme.value}), {mode}"]
            )
        )
        async with build_http_client(
            transport=upstream.transport,
            connect_timeout=upstream.connect_timeout,
            read_timeout=upstream.read_timeout,
            verify_tls=not upstream.insecure_skip_tls_verify,
        ) as http:
            report, log = await check_account(
                http,
                settings,
                token,
                write=args.write,
                domain=args.domain or DEFAULT_DOMAIN,
                interrupts=interrupts,
                emit=emit,
                extra_findings=[allowlist],
            )
        if args.json:
            printer.quiet = False
            emit([orjson.dumps(report_json(report, log.redact)).decode()])
        else:
            emit(closing_lines(report, log.redact))
        return report


class _Printer:
    """Prints the report's lines; a closed stdout stops the printing, never the check.

    The clean-up must run whatever happens, also when the reader of a pipe went away.
    """

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.closed = False

    def lines(self, lines: list[str]) -> None:
        """Print ``lines`` (unless quiet, or stdout is gone)."""
        if self.quiet or self.closed:
            return
        try:
            print("\n".join(lines), flush=True)
        except OSError:
            self.closed = True
            # Python's own flush at exit would fail on it again, with a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
