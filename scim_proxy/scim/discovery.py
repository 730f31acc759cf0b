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

from .models import Group, Role, User


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

ROLE_ENDPOINT = Endpoint(
    "Role",
    "/Roles",
    Role,
    "TelemetryTV user groups as roles granted per user (read-only: groups are created "
    "and renamed through /Groups)",
)
"""Okta Identity Governance discovers roles by this type's schema (``urn:okta:...:Role``).

Okta knows that schema and does not need it from ``/Schemas``; it is published there all
the same, because RFC 7644 §4 clients (scim2-client among them) refuse a resource type
whose schema the server does not publish.
"""


def endpoints(*, roles: bool) -> tuple[Endpoint, ...]:
    """The resource types served: Users and Groups, and Roles when roles are enabled."""
    return (*ENDPOINTS, ROLE_ENDPOINT) if roles else ENDPOINTS


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
            ),
            AuthenticationScheme(
                type="httpbasic",
                name="HTTP Basic, the API token as the password",
                description=(
                    "Basic with any user name and the TelemetryTV API token as the password "
                    "(Okta's Basic Auth mode); with an empty password, the user name is the "
                    "token."
                ),
            ),
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


def schema(endpoint: Endpoint, base_url: str, *, roles: bool = True) -> dict[str, Any]:
    """The Schema document of one endpoint's resource (the User's without ``roles`` when
    roles are disabled)."""
    body = dict(_schema_body(endpoint.model))
    if not roles and endpoint.model is User:
        body["attributes"] = [a for a in body["attributes"] if a.get("name") != "roles"]
    body["meta"] = {
        "resourceType": "Schema",
        "location": f"{base_url}/Schemas/{endpoint.model.__schema__}",
    }
    return body
