"""How membership writers coordinate (``[groups] coordination``), and the mode in force.

See docs/memberships.md for which mode fits which deployment.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..redaction import redis_url_for_logs

if TYPE_CHECKING:
    from .sections import Settings


class Coordination(StrEnum):
    """How concurrent writers of one user's group list are kept from undoing each other."""

    auto = "auto"
    """``redis`` when ``groups.redis_url`` is set, otherwise ``verify``."""

    redis = "redis"
    """A per-user lock in Redis around every read-modify-write: any number of processes."""

    process = "process"
    """Per-user locks in this process: only when it is the only writer (one worker)."""

    verify = "verify"
    """No shared locks: write, wait ``groups.settle_seconds``, read back, re-apply."""


def coordination_mode(settings: Settings) -> Coordination:
    """The mode in force for these settings (``auto`` resolved)."""
    mode = Coordination(settings.groups.coordination)
    if mode is Coordination.auto:
        return Coordination.redis if settings.groups.redis_url else Coordination.verify
    return mode


def check_coordination(settings: Settings) -> None:
    """Raise ``ConfigError`` when the coordination settings cannot work."""
    from .validation import ConfigError

    groups, upstream = settings.groups, settings.upstream
    mode = coordination_mode(settings)
    if mode is Coordination.redis and not groups.redis_url:
        raise ConfigError(
            "groups.coordination = redis needs groups.redis_url (SCIM_PROXY_GROUPS_REDIS_URL), "
            "e.g. redis://redis:6379/0"
        )
    if groups.redis_url:
        try:
            parts = urlsplit(groups.redis_url)
            parts.port  # noqa: B018 - parsing the port validates it
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("redis", "rediss", "unix")
            or (parts.scheme != "unix" and not parts.hostname)
        ):
            raise ConfigError(
                f"groups.redis_url = {redis_url_for_logs(groups.redis_url)!r} is not valid: use "
                "redis://host:6379/0, rediss://host:6379/0 (TLS) or unix:///path/redis.sock"
            )
    if mode is Coordination.process and settings.server.workers > 1:
        raise ConfigError(
            f"groups.coordination = process cannot be used with server.workers = "
            f"{settings.server.workers}: per-process locks do not reach the other workers. "
            "Use groups.coordination = redis (with groups.redis_url), or verify, or one worker"
        )
    floor = upstream.connect_timeout + upstream.read_timeout
    if not floor < groups.lock_seconds <= 600:
        raise ConfigError(
            f"groups.lock_seconds = {groups.lock_seconds} is not valid: use more than "
            f"upstream.connect_timeout + upstream.read_timeout ({floor:g}) and at most 600, so "
            "a lock outlives the write it covers"
        )
    if not 0 < groups.lock_wait_seconds <= 60:
        raise ConfigError(
            f"groups.lock_wait_seconds = {groups.lock_wait_seconds} is not valid: use 0 < "
            "seconds <= 60"
        )
    if not 0.01 <= groups.redis_timeout_seconds <= 10:
        raise ConfigError(
            f"groups.redis_timeout_seconds = {groups.redis_timeout_seconds} is not valid: use "
            "0.01 to 10"
        )
