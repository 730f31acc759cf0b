"""What may be logged of an error's ``detail`` and of a URL.

A SCIM error's detail is written for the identity admin and may name the value that
failed (an email TelemetryTV found taken, a piece of a filter). Logs carry names and
hashes, not personal values, unless ``logging.include_values`` is on: the value-free
variant the error provides is logged instead, and any email address left is masked.
URLs are logged without credentials (a Redis URL only as ``scheme://host:port/db``).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

from .context import RequestStats

_EMAIL = re.compile(r"[^\s'\"<>()@,;:]+@[^\s'\"<>()@,;:]+\.[^\s'\"<>()@,;:]+")
MASK = "[email]"


def mask_emails(text: str) -> str:
    """``text`` with every email address replaced by ``[email]``."""
    return _EMAIL.sub(MASK, text) if "@" in text else text


def logged_detail(stats: RequestStats, include_values: bool) -> str | None:
    """The detail of the error a request answered, as its ``request`` event may log it."""
    if stats.error_detail is None:
        return None
    if include_values:
        return stats.error_detail
    return mask_emails(stats.error_log_detail or stats.error_detail)


def _split(url: str) -> tuple[SplitResult, str] | None:
    """The split URL and its ``host[:port]`` (IPv6 in brackets, no credentials); None if
    it cannot be parsed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    return parts, host if port is None else f"{host}:{port}"


def url_without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed, safe to log."""
    if not url or (split := _split(url)) is None:
        return url and "(unparsable URL)"
    parts, server = split
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, server, parts.path, parts.query, parts.fragment))


def redis_url_for_logs(url: str) -> str:
    """``scheme://host:port/db`` of a Redis URL, safe to log or show.

    Never the user or password (``redis://:pw@host``), never the query (redis-py reads
    ``?password=`` there too), never a fragment: only what names the server and database.
    """
    if not url or (split := _split(url)) is None:
        return url and "(unparsable URL)"
    parts, server = split
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    db = parts.path if parts.path.strip("/").isdigit() else ""
    return f"{parts.scheme}://{server}{db}"
