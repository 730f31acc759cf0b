"""Structured logging: JSON lines on stdout by default, a readable console format on demand.

A redaction processor runs before rendering, so a secret handed to a log call by
mistake (a key named like a token or password) never reaches the output.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

from .config import LogFormat, LoggingSettings
from .context import current_request_id

_SECRET_KEYS = frozenset(
    {"authorization", "token", "api_token", "password", "secret", "credentials", "cookie"}
)
REDACTED = "[redacted]"

_harmless_keys: set[str] = set()
"""Event keys seen not to name a secret (log calls name them in the code: a bounded set)."""
_HARMLESS_LIMIT = 4096


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace the value of any key that names a secret."""
    # Only keys not yet seen to be harmless are looked at: every request's event has the
    # same fifteen or so, and a set difference is cheaper than lower-casing each of them.
    for key in event_dict.keys() - _harmless_keys:
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = REDACTED
        elif len(_harmless_keys) < _HARMLESS_LIMIT:
            _harmless_keys.add(key)
    return event_dict


def add_request_id(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the id of the request being handled, unless the event names one already.

    Read from the request's bookkeeping, which the HTTP front door opens
    anyway, rather than bound with structlog's contextvars on every request.
    """
    if "request_id" not in event_dict:
        request_id = current_request_id()
        if request_id is not None:
            event_dict["request_id"] = request_id
    return event_dict


def _json_serializer(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def use_colour(stream: Any = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the console format may colour its output.

    Only on a terminal (a file or a pipe would keep the escape codes), and never when
    ``NO_COLOR`` is set to anything but an empty string (https://no-color.org).
    """
    stream = sys.stdout if stream is None else stream
    environ = os.environ if environ is None else environ
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(settings: LoggingSettings | None = None, *, cache: bool = True) -> None:
    """Configure structlog for the process (``cache=False`` keeps loggers re-configurable)."""
    settings = settings or LoggingSettings()
    level = logging.getLevelNamesMapping()[settings.level.upper()]
    renderer: Any
    if settings.format is LogFormat.console:
        renderer = structlog.dev.ConsoleRenderer(
            colors=use_colour(), exception_formatter=structlog.dev.plain_traceback
        )
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_json_serializer)
    # No structlog.contextvars.merge_contextvars: nothing binds context variables (the
    # request id comes from add_request_id), and it would run on every event for nothing.
    processors: list[Any] = [
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    if settings.format is LogFormat.json:
        processors.append(structlog.processors.format_exc_info)
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=cache,
    )
