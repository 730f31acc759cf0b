"""``/ServiceProviderConfig``, ``/ResourceTypes``, ``/Schemas`` (RFC 7644 §4): read-only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...scim.discovery import endpoints, resource_type, schema, service_provider_config
from ...scim.errors import ScimError
from ...scim.messages import list_response
from ..responses import scim_response
from ..routing import Route
from ..state import proxy_state, scim_base_url


async def get_service_provider_config(request: Request) -> Response:
    """GET /ServiceProviderConfig."""
    max_results = proxy_state(request).settings.scim.max_count
    return scim_response(service_provider_config(scim_base_url(request), max_results=max_results))


def _roles_enabled(request: Request) -> bool:
    return proxy_state(request).settings.roles.enabled


async def list_resource_types(request: Request) -> Response:
    """GET /ResourceTypes."""
    base = scim_base_url(request)
    documents = [resource_type(e, base) for e in endpoints(roles=_roles_enabled(request))]
    return scim_response(list_response(documents, total=len(documents), start_index=1))


async def get_resource_type(request: Request) -> Response:
    """GET /ResourceTypes/{id}."""
    wanted = request.path_params["type_id"]
    for endpoint in endpoints(roles=_roles_enabled(request)):
        if endpoint.name.lower() == wanted.lower():
            return scim_response(resource_type(endpoint, scim_base_url(request)))
    raise ScimError(404, f"Resource type {wanted[:80]!r} not found", reason="unknown_resource_type")


async def list_schemas(request: Request) -> Response:
    """GET /Schemas."""
    base = scim_base_url(request)
    roles = _roles_enabled(request)
    documents = [schema(e, base, roles=roles) for e in endpoints(roles=roles)]
    return scim_response(list_response(documents, total=len(documents), start_index=1))


async def get_schema(request: Request) -> Response:
    """GET /Schemas/{urn}."""
    wanted = request.path_params["schema_id"]
    roles = _roles_enabled(request)
    for endpoint in endpoints(roles=roles):
        # Schema URIs are case-insensitive (RFC 7643 section 2.1).
        if str(endpoint.model.__schema__).lower() == wanted.lower():
            return scim_response(schema(endpoint, scim_base_url(request), roles=roles))
    raise ScimError(404, f"Schema {wanted[:120]!r} not found", reason="unknown_schema")


routes = [
    Route(
        "/ServiceProviderConfig",
        get_service_provider_config,
        methods=["GET"],
        resource="ServiceProviderConfig",
        operation="get",
    ),
    Route("/ResourceTypes", list_resource_types, methods=["GET"], resource="ResourceType"),
    Route("/ResourceTypes/{type_id}", get_resource_type, methods=["GET"], resource="ResourceType"),
    Route("/Schemas", list_schemas, methods=["GET"], resource="Schema"),
    Route("/Schemas/{schema_id}", get_schema, methods=["GET"], resource="Schema"),
]
