"""SCIM endpoints the proxy does not implement: they answer 501 with a SCIM error."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...scim.errors import ScimError
from ..routing import Route

_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]

_WHY = {
    "/Bulk": "Bulk operations are not supported; send each operation on its own.",
    "/Me": "/Me is not supported: the proxy acts for an API token, not a signed-in user.",
    "/.search": "POST /.search is not supported; use GET with the filter parameter.",
}


async def not_implemented(request: Request) -> Response:
    """501 for an endpoint of RFC 7644 the proxy leaves out."""
    suffix = request.url.path.rsplit("/", 1)[-1]
    raise ScimError(
        501, _WHY.get(f"/{suffix}", "This SCIM endpoint is not supported."), reason="not_supported"
    )


routes = [
    Route("/Bulk", not_implemented, methods=_ALL),
    Route("/Me", not_implemented, methods=_ALL),
    Route("/.search", not_implemented, methods=_ALL),
    Route("/Users/.search", not_implemented, methods=["POST"]),
    Route("/Groups/.search", not_implemented, methods=["POST"]),
]
