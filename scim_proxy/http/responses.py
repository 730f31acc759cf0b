"""Responses in SCIM's media type, encoded with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from ..scim.render import JSON_OPTIONS

SCIM_MEDIA_TYPE = "application/scim+json"


class ScimResponse(Response):
    """A JSON response with ``Content-Type: application/scim+json``."""

    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        """Encode the body (a rendered document's datetimes written as scim2-models does)."""
        return orjson.dumps(content, option=JSON_OPTIONS)


def scim_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> ScimResponse:
    """A SCIM JSON response."""
    return ScimResponse(content, status_code=status_code, headers=headers)


def no_content() -> Response:
    """204 with no body."""
    return Response(status_code=204)


def json_response(content: Any, status_code: int = 200) -> Response:
    """A plain ``application/json`` response: the health endpoints are not SCIM resources."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
