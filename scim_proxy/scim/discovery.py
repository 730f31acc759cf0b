"""Discovery documents (RFC 7644 §4): what the proxy supports, and nothing it cannot do."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Meta,
    Patch,
    Resource,
    ResourceType,
    ServiceProviderConfig,
    Sort,
)

from .models import Group, User


@dataclass(frozen=True)
class Endpoint:
    """A resource type the proxy serves."""

    name: str
    endpoint: str
    model: type[Resource[Any]]
    description: str


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("User", "/Users", User, "TelemetryTV users"),
    Endpoint("Group", "/Groups", Group, "TelemetryTV user groups"),
)


def service_provider_config(base_url: str, *, max_results: int) -> dict[str, Any]:
    """The ServiceProviderConfig document."""
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=max_results),
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="TelemetryTV API token",
                description=(
                    "Send the TelemetryTV API token of an Admin-group user as "
                    "'Authorization: Bearer <token>'."
                ),
                primary=True,
            )
        ],
        meta=Meta(
            resource_type="ServiceProviderConfig", location=f"{base_url}/ServiceProviderConfig"
        ),
    )
    return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def resource_type(endpoint: Endpoint, base_url: str) -> dict[str, Any]:
    """The ResourceType document of one endpoint."""
    document = ResourceType(
        id=endpoint.name,
        name=endpoint.name,
        endpoint=endpoint.endpoint,
        description=endpoint.description,
        schema_=str(endpoint.model.__schema__),
        meta=Meta(
            resource_type="ResourceType", location=f"{base_url}/ResourceTypes/{endpoint.name}"
        ),
    )
    return document.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


@cache
def _schema_body(model: type[Resource[Any]]) -> dict[str, Any]:
    return model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def schema(endpoint: Endpoint, base_url: str) -> dict[str, Any]:
    """The Schema document of one endpoint's resource."""
    body = dict(_schema_body(endpoint.model))
    body["meta"] = {
        "resourceType": "Schema",
        "location": f"{base_url}/Schemas/{endpoint.model.__schema__}",
    }
    return body
