"""Every error as a SCIM Error JSON body: SCIM errors, router 404/405, anything else."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..ops.context import request_stats
from ..scim.errors import ScimError
from .responses import scim_response


def render_scim_error(error: ScimError) -> Response:
    """The response for a SCIM error."""
    stats = request_stats()
    stats.scim_type = error.scim_type
    stats.error_detail = error.detail
    stats.error_log_detail = error.log_detail
    stats.error_reason = error.reason
    return scim_response(error.body(), error.status, error.headers or None)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Render the router's own errors (unknown path, wrong method) as SCIM errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = ScimError(
            404,
            f"No SCIM endpoint at {request.url.path[:200]!r}; the SCIM base URL ends in /scim/v2",
            reason="no_such_endpoint",
        )
    elif exc.status_code == 405:
        error = ScimError(
            405,
            f"{request.method} is not allowed on {request.url.path[:200]!r}",
            reason="method_not_allowed",
        )
    else:
        error = ScimError(exc.status_code, "The request could not be handled")
    headers = dict(exc.headers or {})
    error.headers.update(headers)
    return render_scim_error(error)


def internal_error() -> ScimError:
    """What a client sees when the proxy itself failed: no internal detail."""
    return ScimError(
        500,
        "scim-proxy failed to handle the request; it has been logged with its request id",
        reason="unhandled_error",
    )
