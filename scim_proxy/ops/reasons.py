"""The ``reason`` codes of refused requests: why a request was answered with an error.

Every error a client can see carries one (``scim/errors.py`` ``ScimError`` takes no
other kind), and its ``request`` event logs it beside the status and the SCIM ``detail``,
so that refusals of one status are told apart and counted without reading the text.
:data:`Reason` is the whole list: mypy refuses an error built with any other code, and
docs/logging.md documents each in one table that tests/ops/test_reasons.py holds equal
to this list.
"""

from __future__ import annotations

from typing import Literal, get_args

Reason = Literal[
    # Authentication and the auth guard (http/auth.py, http/auth_guard/)
    "no_authorization_header",
    "malformed_authorization_header",
    "token_not_allowed",
    "token_refused_by_telemetrytv",
    "metrics_token_refused",
    "auth_throttled",
    "auth_busy",
    # Routing and endpoints
    "no_such_endpoint",
    "method_not_allowed",
    "roles_read_only",
    "not_supported",
    "metrics_disabled",
    "unknown_resource_type",
    "unknown_schema",
    # The request body (http/body.py)
    "body_timeout",
    "body_too_large",
    "unsupported_media_type",
    "empty_body",
    "malformed_json",
    "body_not_object",
    # What the request asks for (scim/, translation/)
    "invalid_query_parameter",
    "invalid_filter",
    "unsupported_filter",
    "filter_too_large",
    "filter_scan_limit",
    "request_too_large",
    "invalid_resource",
    "invalid_patch",
    "unsupported_patch",
    "username_not_email",
    "display_name_required",
    "invalid_member",
    "unknown_members",
    "invalid_role",
    "unknown_role",
    "ambiguous_role",
    "builtin_admin_group",
    # TelemetryTV's answers (translation/errors.py), and the proxy's own limits
    "telemetrytv_invalid_request",
    "telemetrytv_forbidden",
    "telemetrytv_not_found",
    "telemetrytv_conflict",
    "telemetrytv_rate_limited",
    "telemetrytv_server_error",
    "telemetrytv_bad_response",
    "telemetrytv_unknown_error",
    "telemetrytv_unreachable",
    "telemetrytv_timeout",
    "breaker_open",
    "membership_incomplete",
    "work_over_budget",
    "unhandled_error",
]
"""Every ``reason`` a refused request's ``request`` event can carry."""

REASONS: tuple[str, ...] = get_args(Reason)
"""The codes of :data:`Reason`, in order."""
