"""Standard output that survives its reader going away (``scim-proxy ... | head -2``).

Python ignores SIGPIPE, so a write to a pipe whose reader has exited raises
``BrokenPipeError``: inside a log call of a running server, in the middle of a request,
or at exit while flushing, each time with a traceback. The CLI puts :class:`GuardedStdout`
in place of ``sys.stdout`` before any command runs: a write that finds the reader gone
points file descriptor 1 at ``/dev/null`` (so nothing written later, nor the interpreter's
last flush, fails again), drops the output, and calls what the command registered with
:func:`when_stdout_closes`: a server stops as on SIGTERM, draining its requests; the
check goes on to clean up. A command that stopped for it exits with
:data:`CLOSED_STDOUT_EXIT`, as a process killed by SIGPIPE would.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO, cast

CLOSED_STDOUT_EXIT = 128 + signal.SIGPIPE
"""141: the exit code of a command stopped by its standard output's reader going away."""

INTERRUPTED_EXIT = 128 + signal.SIGINT
"""130: the exit code of a command stopped by Ctrl-C (SIGINT)."""

_callbacks: list[Callable[[], None]] = []
_closed = False


class GuardedStdout:
    """A text stream writing through to ``stream``, flushed at every write, that turns a
    vanished reader into :func:`when_stdout_closes`' callbacks instead of an exception.
    Anything else (``encoding``, ``buffer``...) is the underlying stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        """Write ``text`` (dropped once the reader is gone); its length, always."""
        if not _closed:
            try:
                self._stream.write(text)
                self._stream.flush()
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        """Flush (nothing to do once the reader is gone)."""
        if not _closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def fileno(self) -> int:
        """The file descriptor written to (1)."""
        return self._stream.fileno()

    def isatty(self) -> bool:
        """Whether it is a terminal (the console log colours only then)."""
        return self._stream.isatty()

    def writable(self) -> bool:
        """Always: dropped output is still accepted."""
        return True

    def _reader_gone(self) -> None:
        global _closed
        _closed = True
        # Whatever is still buffered, and every later write (the interpreter's flush at
        # exit included), now goes to /dev/null instead of failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)
        for callback in list(_callbacks):
            callback()


def guard_stdout() -> None:
    """Put a :class:`GuardedStdout` in place of ``sys.stdout`` (once)."""
    if not isinstance(sys.stdout, GuardedStdout):
        sys.stdout = cast(TextIO, GuardedStdout(sys.stdout))


def when_stdout_closes(callback: Callable[[], None]) -> None:
    """Call ``callback`` once standard output's reader is found gone (at most once)."""
    _callbacks.append(callback)


def stdout_closed() -> bool:
    """Whether standard output's reader was found gone."""
    return _closed


def exit_code(code: int) -> int:
    """``code``, or :data:`CLOSED_STDOUT_EXIT` when the command stopped for a closed stdout."""
    return CLOSED_STDOUT_EXIT if _closed else code
