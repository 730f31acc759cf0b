"""``/healthz``: liveness, outside ``/scim/v2`` and unauthenticated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..responses import scim_response


async def healthz(request: Request) -> Response:
    """Alive: touches nothing upstream."""
    return scim_response({"status": "ok"})


routes = [Route("/healthz", healthz, methods=["GET"])]
