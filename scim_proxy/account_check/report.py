"""What ``scim-proxy check`` found, as readable lines or as one JSON object to share.

Every string leaves through ``redact`` (the exchange log's): no token or password reaches
the output, whatever an upstream answer or an error text held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..telemetrytv.recording import Exchange

Redact = Callable[[Any], Any]

EXIT_USABLE = 0
EXIT_UNUSABLE = 1
EXIT_LEFT_BEHIND = 3
"""Something the check created could not be removed (the last lines list it)."""


class Status(StrEnum):
    """How one item went."""

    PASS = "PASS"  # noqa: S105 - a status, not a password
    WARN = "WARN"
    """Works, with a limitation."""
    FAIL = "FAIL"
    SKIPPED = "SKIPPED"
    """Not tried: it needs an item that did not pass, or the check was interrupted."""


@dataclass
class Item:
    """One contract item: a read check, or a write and its read back."""

    phase: str
    """``read`` or ``write``."""
    name: str
    status: Status
    detail: str
    fix: str = ""
    """What to change, or the limitation a failure implies."""
    exchanges: list[Exchange] = field(default_factory=list)
    ms: float | None = None


@dataclass(frozen=True)
class Leftover:
    """Something the check created (or may have) and could not remove."""

    kind: str
    """``user`` or ``group``."""
    id: str | None
    """None when the create's answer never came back."""
    names: tuple[str, ...]
    """Every email (user) or name (group) it was given, first the one it was created with."""
    why: str

    def line(self) -> str:
        """One line naming it for someone deleting it by hand."""
        label = "email" if self.kind == "user" else "name"
        names = " or ".join(self.names)
        which = f"id {self.id}" if self.id else "id unknown (it may not exist)"
        return f"  {self.kind} {which}, {label} {names}: {self.why}"


@dataclass
class Report:
    """Everything one run of the check found."""

    version: str
    base_url: str
    auth_scheme: str
    started_at: datetime
    write: bool
    items: list[Item] = field(default_factory=list)
    throwaway: dict[str, str] = field(default_factory=dict)
    """What the write check named its user and group."""
    cleanup: list[Exchange] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)
    interrupted: str | None = None
    """The signal that stopped the check (``SIGINT``, ``SIGTERM``), if one did."""
    interrupt_code: int = 0
    """128 + that signal's number."""
    ms: float = 0.0

    @property
    def failed(self) -> list[Item]:
        """The items that failed."""
        return [item for item in self.items if item.status is Status.FAIL]

    @property
    def usable(self) -> bool:
        """Whether the proxy can work with the account: nothing failed and all was checked."""
        return not self.failed and self.interrupted is None

    def exit_code(self) -> int:
        """0 usable; 1 an item failed; 3 something left behind; 128+n interrupted."""
        if self.leftovers:
            return EXIT_LEFT_BEHIND
        if self.interrupted is not None:
            return self.interrupt_code
        return EXIT_USABLE if self.usable else EXIT_UNUSABLE


_INDENT = " " * 6


def item_lines(item: Item, redact: Redact) -> list[str]:
    """An item as readable lines: status and detail, then for anything but a pass the fix
    and the exchanges that tell what was sent and what came back."""
    lines = [f"{item.status.value}  {item.name}: {item.detail}"]
    if item.status in (Status.PASS, Status.SKIPPED):
        return _lines(redact(lines))
    if item.fix:
        lines.append(f"{_INDENT}-> {item.fix}")
    # The writes, and any read that did not succeed; a repeated exchange (the membership
    # writer's rounds) once, with its count.
    shown: list[tuple[str, str, int]] = []
    for e in item.exchanges:
        if e.method == "GET" and e.status is not None and 200 <= e.status < 300:
            continue
        pair = (e.sent_text(), e.received_text())
        if shown and shown[-1][:2] == pair:
            shown[-1] = (*pair, shown[-1][2] + 1)
        else:
            shown.append((*pair, 1))
    for sent, received, count in shown[:6]:
        times = f" ({count} times)" if count > 1 else ""
        lines.append(f"{_INDENT}sent{times}: {sent}")
        lines.append(f"{_INDENT}received: {received}")
    if len(shown) > 6:
        lines.append(f"{_INDENT}... {len(shown) - 6} more exchanges (--json has them all)")
    return _lines(redact(lines))


def closing_lines(report: Report, redact: Redact) -> list[str]:
    """The lines after the items: clean-up, verdict, and last whatever was left behind."""
    lines: list[str] = []
    if report.interrupted is not None:
        lines.append(f"Interrupted by {report.interrupted}: the items not reached were not run.")
    if report.write and report.throwaway:
        if report.leftovers:
            lines.append("Clean-up: not everything the check created could be removed.")
        else:
            lines.append(
                f"Clean-up: nothing left behind (throwaway user {report.throwaway['user']}, "
                f"group {report.throwaway['group']})."
            )
    failed = report.failed
    if report.interrupted is not None:
        lines.append("The check did not finish: run it again to the end.")
    elif failed:
        lines.append(
            f"The proxy cannot work with this account as configured: {len(failed)} item(s) failed."
        )
    else:
        lines.append("The proxy can work with this account.")
    if report.leftovers:
        lines.append(
            "LEFT BEHIND in TelemetryTV, to delete by hand (the check could not remove them):"
        )
        lines += [leftover.line() for leftover in report.leftovers]
    return _lines(redact(lines))


def report_json(report: Report, redact: Redact) -> dict[str, Any]:
    """The whole report as one JSON object (for a support ticket)."""
    document = {
        "scim_proxy_version": report.version,
        "upstream": {"base_url": report.base_url, "auth_scheme": report.auth_scheme},
        "started_at": report.started_at.isoformat(),
        "ms": round(report.ms, 1),
        "write": report.write,
        "throwaway": report.throwaway,
        "items": [
            {
                "phase": item.phase,
                "name": item.name,
                "status": item.status.value,
                "detail": item.detail,
                "fix": item.fix,
                "ms": None if item.ms is None else round(item.ms, 1),
                "exchanges": [exchange.as_json() for exchange in item.exchanges],
            }
            for item in report.items
        ],
        "cleanup": {
            "exchanges": [exchange.as_json() for exchange in report.cleanup],
            "left_behind": [
                {"kind": x.kind, "id": x.id, "names": list(x.names), "why": x.why}
                for x in report.leftovers
            ],
        },
        "interrupted": report.interrupted,
        "usable": report.usable,
        "exit_code": report.exit_code(),
    }
    redacted: dict[str, Any] = redact(document)
    return redacted


def _lines(value: Any) -> list[str]:
    return [str(line) for line in value]
