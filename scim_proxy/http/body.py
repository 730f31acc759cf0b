"""Reading JSON request bodies: media type, size, syntax."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request

from ..scim.errors import ScimError

_JSON_TYPES = ("application/scim+json", "application/json")


def _media_type(request: Request) -> str | None:
    raw = request.headers.get("content-type")
    if raw is None:
        return None
    return raw.split(";", 1)[0].strip().lower()


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or a 4xx SCIM error saying what is wrong."""
    server = request.app.state.proxy.settings.server
    try:
        async with asyncio.timeout(server.body_timeout_seconds):
            return await _read_json_object(request, max_bytes=server.max_body_bytes)
    except TimeoutError:
        raise ScimError(
            408,
            f"The request body did not arrive within {server.body_timeout_seconds} seconds",
            reason="body_timeout",
        ) from None


async def _read_json_object(request: Request, *, max_bytes: int) -> dict[str, Any]:
    media_type = _media_type(request)
    if (
        media_type is not None
        and media_type not in _JSON_TYPES
        and not media_type.endswith("+json")
    ):
        raise ScimError(
            415,
            "The request body must be JSON: send Content-Type application/scim+json "
            "or application/json",
            reason="unsupported_media_type",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ScimError(
            400,
            "The request has no body; a JSON object was expected",
            "invalidSyntax",
            reason="empty_body",
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ScimError(
            400,
            "The request body is not valid JSON (UTF-8 encoded)",
            "invalidSyntax",
            reason="malformed_json",
        ) from None
    if not isinstance(body, dict):
        raise ScimError(
            400, "The request body must be a JSON object", "invalidSyntax", reason="body_not_object"
        )
    return body


def _too_large(max_bytes: int) -> ScimError:
    return ScimError(
        413, f"The request body is larger than {max_bytes} bytes", reason="body_too_large"
    )
