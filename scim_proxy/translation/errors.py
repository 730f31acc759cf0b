"""Upstream failures as the SCIM errors an identity admin can act on, each one sentence:
what failed (:func:`upstream_cause`, also what a membership error names as its cause),
then what to do.

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
import re

from ..ops.context import request_stats
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
    """TelemetryTV's own words (they help the admin), on one line, bounded so that a huge
    error page stays out, without a closing full stop (they go inside a sentence)."""
    text = " ".join(exc.message.split())[:_MESSAGE_LIMIT]
    return text.rstrip(" .")


_FILLER = frozenset({"a", "an", "the", "is", "are", "has", "have", "been", "was", "this"})


def _adds_to(sentence: str, text: str) -> bool:
    """Whether TelemetryTV's ``text`` says more than ``sentence`` already does, without
    repeating any of it (three words in a row)."""
    ours = re.findall(r"[a-z0-9]+", sentence.lower())
    theirs = re.findall(r"[a-z0-9]+", text.lower())
    if set(theirs) - _FILLER <= set(ours):
        return False
    runs = {tuple(ours[i : i + 3]) for i in range(len(ours) - 2)}
    return not any(tuple(theirs[i : i + 3]) in runs for i in range(len(theirs) - 2))


def upstream_cause(exc: UpstreamError, *, resource: str = "Resource") -> str:
    """What went wrong upstream, as one clause (no advice, no full stop): the start of the
    detail :func:`scim_error_for` answers, and what a membership error says it failed of.

    TelemetryTV's own words are added where they say more than the clause does.
    """
    text = _upstream_text(exc)
    thing = resource.lower()
    if isinstance(exc, Conflict):
        what = {"email": "email address", "name": "name"}.get(exc.field or "", "value")
        cause = f"a TelemetryTV {thing} with this {what} already exists"
        return f"{cause} (TelemetryTV: {text})" if text and _adds_to(cause, text) else cause
    if isinstance(exc, InvalidRequest):
        fields = "; ".join(f"{name}: {message}" for name, message in exc.fields.items())
        if exc.status is None:  # refused before sending: the adapter's own words
            return f"{text}, so nothing was sent to TelemetryTV"
        cause = f"TelemetryTV refused the {thing}"
        if text and _adds_to(cause, text):
            cause += f": {text}"
        return f"{cause} ({fields})" if fields else cause
    if isinstance(exc, Unauthorized):
        # Which part of the header it was, unless the usual Bearer token (Basic: the
        # password, or the user name when the password is empty).
        source = request_stats().token_source
        shown = f" ({source})" if source and source != "the Bearer token" else ""
        return f"TelemetryTV refused the API token{shown}"
    if isinstance(exc, Forbidden):
        cause = "TelemetryTV refused the operation"
        return f"{cause}: {text}" if text and _adds_to(cause, text) else cause
    if isinstance(exc, NotFound):
        return f"{resource} not found in TelemetryTV"
    if isinstance(exc, RateLimited):
        return "TelemetryTV is rate limiting requests"
    if isinstance(exc, CircuitOpen):
        return "TelemetryTV has been failing, so calls to it are paused"
    if isinstance(exc, UpstreamTimeout):
        return "TelemetryTV did not answer in time"
    if isinstance(exc, ConnectionFailed):
        # The adapter's message names what failed: connection refused, DNS or TLS failure.
        return (
            f"TelemetryTV could not be reached ({text})"
            if text
            else "TelemetryTV could not be reached"
        )
    if isinstance(exc, ServerError):
        return f"TelemetryTV failed with status {exc.status}"
    if isinstance(exc, BadResponse):
        # The adapter's message names what came back: a body that is not JSON, status 302...
        return f"TelemetryTV answered in a way the proxy does not expect ({text})"
    return "TelemetryTV answered with an error the proxy does not know"


def _sentence(clause: str) -> str:
    return clause[:1].upper() + clause[1:]


def scim_error_for(exc: UpstreamError, *, resource: str = "Resource") -> ScimError:
    """The SCIM error to answer for an upstream failure: one sentence, its cause first
    (:func:`upstream_cause`), then what the admin can do."""
    cause = _sentence(upstream_cause(exc, resource=resource))
    if isinstance(exc, Conflict):
        what = {"email": "email address", "name": "name"}.get(exc.field or "", "value")
        return ScimError(
            409,
            cause,
            "uniqueness",
            reason="telemetrytv_conflict",
            # TelemetryTV's text may repeat the taken value.
            log_detail=f"A TelemetryTV {resource.lower()} with this {what} already exists",
        )
    if isinstance(exc, InvalidRequest):
        return ScimError(
            400,
            cause,
            "invalidValue",
            reason="telemetrytv_invalid_request",
            log_detail=f"TelemetryTV refused the {resource.lower()} (fields: "
            + (", ".join(exc.fields) or "none named")
            + ")",
        )
    if isinstance(exc, Unauthorized):
        return ScimError(
            401,
            f"{cause}: check the token in the app's provisioning settings, and that it was "
            "created by a user in TelemetryTV's Admin group",
            headers={"WWW-Authenticate": 'Bearer realm="scim-proxy"'},
            reason="token_refused_by_telemetrytv",
        )
    if isinstance(exc, Forbidden):
        return ScimError(
            403,
            f"{cause}; check the account's plan and user limit, and that the token's user is "
            "in the Admin group",
            reason="telemetrytv_forbidden",
        )
    if isinstance(exc, NotFound):
        return ScimError(404, cause, reason="telemetrytv_not_found")
    if isinstance(exc, RateLimited):
        wait = DEFAULT_RETRY_AFTER if exc.retry_after is None else math.ceil(exc.retry_after)
        wait = max(1, wait)
        return ScimError(
            429,
            f"{cause}; retry after {wait} seconds",
            headers={"Retry-After": str(wait)},
            reason="telemetrytv_rate_limited",
        )
    if isinstance(exc, CircuitOpen):
        wait = max(1, math.ceil(exc.retry_after))
        return ScimError(
            503,
            f"{cause}; retry after {wait} seconds",
            headers={"Retry-After": str(wait)},
            reason="breaker_open",
        )
    if isinstance(exc, UpstreamTimeout | ConnectionFailed):
        return ScimError(
            503,
            f"{cause}; the request may be retried",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            reason="telemetrytv_timeout"
            if isinstance(exc, UpstreamTimeout)
            else "telemetrytv_unreachable",
        )
    if isinstance(exc, ServerError):
        return ScimError(
            502, f"{cause}; the request may be retried", reason="telemetrytv_server_error"
        )
    if isinstance(exc, BadResponse):
        return ScimError(
            502,
            cause,
            reason="telemetrytv_bad_response",
            log_detail="TelemetryTV answered in a way the proxy does not expect",
        )
    return ScimError(502, cause, reason="telemetrytv_unknown_error")
