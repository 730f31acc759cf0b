"""Ctrl-C and SIGTERM during the check: stop the checks, but always clean up.

The check runs in phases, each a task of its own. A signal cancels the phase running and
is counted; a phase starts only while fewer signals have come than it tolerates. The
checks tolerate none; the clean-up tolerates one, so the first signal stops the checks
and the clean-up still runs, and a second stops the clean-up, which then lists what it
could not remove. The signals never reach the code as KeyboardInterrupt: no traceback.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """The signals received so far, and the phase they cancel."""

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._phase: asyncio.Future[Any] | None = None

    @property
    def first(self) -> signal.Signals | None:
        """The first signal received, if any."""
        return self.received[0] if self.received else None

    def interrupt(self, signum: signal.Signals) -> None:
        """Count a signal and cancel the phase running (what a signal handler calls)."""
        self.received.append(signum)
        if self._phase is not None and not self._phase.done():
            self._phase.cancel()

    async def run(self, phase: Coroutine[Any, Any, Any], *, tolerates: int = 0) -> bool:
        """Run ``phase`` unless more than ``tolerates`` signals came; False if it was stopped."""
        if len(self.received) > tolerates:
            phase.close()
            return False
        self._phase = asyncio.ensure_future(phase)
        try:
            await asyncio.shield(self._phase)
        except asyncio.CancelledError:
            if not self._phase.cancelled():
                raise  # this task itself was cancelled, not the phase
            return False
        finally:
            self._phase = None
        return True

    @contextmanager
    def from_signals(self) -> Iterator[None]:
        """Take SIGINT and SIGTERM as interruptions while the block runs (in the loop)."""
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            loop.add_signal_handler(signum, self.interrupt, signum)
        try:
            yield
        finally:
            for signum in SIGNALS:
                loop.remove_signal_handler(signum)
