"""Every error as a SCIM Error JSON body: SCIM errors, no route (404/405), anything else."""

from __future__ import annotations

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


def not_routed(method: str, path: str, allowed: tuple[str, ...]) -> ScimError:
    """404 for a path no route serves; 405 with ``Allow`` for one served with ``allowed``."""
    if not allowed:
        return ScimError(
            404,
            f"No SCIM endpoint at {path[:200]!r}; the SCIM base URL ends in /scim/v2",
            reason="no_such_endpoint",
        )
    return ScimError(
        405,
        f"{method} is not allowed on {path[:200]!r}",
        headers={"Allow": ", ".join(allowed)},
        reason="method_not_allowed",
    )


def internal_error() -> ScimError:
    """What a client sees when the proxy itself failed: no internal detail."""
    return ScimError(
        500,
        "scim-proxy failed to handle the request; it has been logged with its request id",
        reason="unhandled_error",
    )
