"""What of an error's ``detail`` the ``request`` event may carry.

A SCIM error's detail is written for the identity admin and may name the value that
failed (an email TelemetryTV found taken, a piece of a filter). Logs carry names and
hashes, not personal values, unless ``logging.include_values`` is on: the value-free
variant the error provides is logged instead, and any email address left is masked.
"""

from __future__ import annotations

import re

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
