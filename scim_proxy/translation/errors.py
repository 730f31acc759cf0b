"""Upstream failures as the SCIM errors an identity admin can act on.

=========================  ======  ==============  ==========================================
TelemetryTV failure        status  scimType        detail (what the admin reads)
=========================  ======  ==============  ==========================================
InvalidRequest (400)       400     invalidValue    TelemetryTV's field messages
Conflict (taken email)     409     uniqueness      which value is taken
Unauthorized (401)         401                     check the API token
Forbidden (403)            403                     TelemetryTV's text (plan, user limit)
NotFound (404)             404                     which resource is missing
RateLimited (429)          429                     retry later; ``Retry-After`` in seconds
ServerError (5xx)          502                     TelemetryTV failed; retry
BadResponse                502                     TelemetryTV answered off-contract
UpstreamTimeout            503                     TelemetryTV too slow; ``Retry-After``
ConnectionFailed           503                     TelemetryTV unreachable; ``Retry-After``
CircuitOpen                503                     calls paused; ``Retry-After`` = cool-down left
=========================  ======  ==============  ==========================================
"""

from __future__ import annotations

import math

from ..scim.errors import ScimError
from ..telemetrytv.errors import (
    BadResponse,
    CircuitOpen,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)

DEFAULT_RETRY_AFTER = 30
"""Seconds a client is told to wait when TelemetryTV throttled without saying how long."""

UNAVAILABLE_RETRY_AFTER = 10
"""Seconds a client is told to wait when TelemetryTV could not be reached."""

_MESSAGE_LIMIT = 300


def _upstream_text(exc: UpstreamError) -> str:
    # TelemetryTV's own words help the admin; bounded so a huge error page stays out.
    text = " ".join(exc.message.split())
    return text[:_MESSAGE_LIMIT]


def scim_error_for(exc: UpstreamError, *, resource: str = "Resource") -> ScimError:
    """The SCIM error to answer for an upstream failure."""
    if isinstance(exc, Conflict):
        what = {"email": "email address", "name": "name"}.get(exc.field or "", "value")
        return ScimError(
            409,
            f"A TelemetryTV {resource.lower()} with this {what} already exists "
            f"(TelemetryTV: {_upstream_text(exc)})",
            "uniqueness",
            reason="telemetrytv_conflict",
            # TelemetryTV's text may repeat the taken value.
            log_detail=f"A TelemetryTV {resource.lower()} with this {what} already exists",
        )
    if isinstance(exc, InvalidRequest):
        fields = "; ".join(f"{name}: {message}" for name, message in exc.fields.items())
        detail = f"TelemetryTV refused the {resource.lower()}: {_upstream_text(exc)}"
        return ScimError(
            400,
            f"{detail} ({fields})" if fields else detail,
            "invalidValue",
            reason="telemetrytv_invalid_request",
            log_detail=f"TelemetryTV refused the {resource.lower()} (fields: "
            + (", ".join(exc.fields) or "none named")
            + ")",
        )
    if isinstance(exc, Unauthorized):
        return ScimError(
            401,
            "TelemetryTV refused the API token. Check the token in the app's provisioning "
            "settings and that it was created by a user in TelemetryTV's Admin group.",
            headers={"WWW-Authenticate": 'Bearer realm="scim-proxy"'},
            reason="token_refused_by_telemetrytv",
        )
    if isinstance(exc, Forbidden):
        return ScimError(
            403,
            f"TelemetryTV refused the operation: {_upstream_text(exc)}. Check the account's "
            "plan and user limit, and that the token's user is in the Admin group.",
            reason="telemetrytv_forbidden",
        )
    if isinstance(exc, NotFound):
        return ScimError(
            404, f"{resource} not found in TelemetryTV", reason="telemetrytv_not_found"
        )
    if isinstance(exc, RateLimited):
        wait = DEFAULT_RETRY_AFTER if exc.retry_after is None else math.ceil(exc.retry_after)
        wait = max(1, wait)
        return ScimError(
            429,
            f"TelemetryTV is rate limiting requests; retry after {wait} seconds",
            headers={"Retry-After": str(wait)},
            reason="telemetrytv_rate_limited",
        )
    if isinstance(exc, CircuitOpen):
        wait = max(1, math.ceil(exc.retry_after))
        return ScimError(
            503,
            f"TelemetryTV has been failing, so calls to it are paused; retry after {wait} seconds",
            headers={"Retry-After": str(wait)},
            reason="breaker_open",
        )
    if isinstance(exc, UpstreamTimeout):
        return ScimError(
            503,
            "TelemetryTV did not answer in time; the request may be retried",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            reason="telemetrytv_timeout",
        )
    if isinstance(exc, ConnectionFailed):
        # The adapter's message names what failed: connection refused, DNS or TLS failure.
        return ScimError(
            503,
            f"TelemetryTV could not be reached ({_upstream_text(exc)}); the request may be retried",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            reason="telemetrytv_unreachable",
        )
    if isinstance(exc, ServerError):
        return ScimError(
            502,
            f"TelemetryTV failed with status {exc.status}; the request may be retried",
            reason="telemetrytv_server_error",
        )
    if isinstance(exc, BadResponse):
        return ScimError(
            502,
            f"TelemetryTV answered in an unexpected way: {_upstream_text(exc)}",
            reason="telemetrytv_bad_response",
            log_detail="TelemetryTV answered in an unexpected way",
        )
    return ScimError(
        502,
        "TelemetryTV answered with an error the proxy does not know",
        reason="telemetrytv_unknown_error",
    )
