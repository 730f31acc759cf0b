"""``/Roles``: TelemetryTV user groups as roles (Okta Identity Governance discovers them here).

Read-only: a role is a group, and groups are created, renamed and deleted through
``/Groups``. Served only with ``[roles] enabled``.
"""

from __future__ import annotations

from scim2_models import Context
from starlette.requests import Request
from starlette.responses import Response

from ...scim.errors import ScimError
from ...scim.messages import list_response
from ...scim.models import Role
from ...scim.params import response_parameters
from ...translation.groups import GroupProvisioning
from ...translation.roles import RoleListing, role_document
from ..responses import scim_response
from ..routing import Route
from ..state import proxy_state, read_list_query, scim_base_url, upstream_session


def _roles(request: Request) -> RoleListing:
    session = upstream_session(request)
    state = proxy_state(request)
    groups = GroupProvisioning(session, state.settings, scim_base_url(request), state.coordinator)
    return RoleListing(groups)


async def list_roles(request: Request) -> Response:
    """GET /Roles: a page of roles (every TelemetryTV user group), optionally filtered."""
    roles = _roles(request)
    query = read_list_query(request)
    params = response_parameters(Role, request.query_params)
    found, total = await roles.search(query)
    base = scim_base_url(request)
    resources = [role_document(g, base, params, Context.SEARCH_RESPONSE) for g in found]
    return scim_response(list_response(resources, total=total, start_index=query.start_index))


async def get_role(request: Request) -> Response:
    """GET /Roles/{id}."""
    roles = _roles(request)
    params = response_parameters(Role, request.query_params)
    group = await roles.get(request.path_params["role_id"])
    base = scim_base_url(request)
    return scim_response(role_document(group, base, params, Context.RESOURCE_QUERY_RESPONSE))


async def read_only(request: Request) -> Response:
    """405 for a write: roles are TelemetryTV user groups, managed through /Groups."""
    raise ScimError(
        405,
        "Roles are read-only: each role is a TelemetryTV user group. Create, rename or delete "
        "groups through /Groups (Okta: Push Groups); grant a role by writing the user's roles.",
        headers={"Allow": "GET"},
        reason="roles_read_only",
    )


routes = [
    Route("/Roles", list_roles, methods=["GET"], resource="Role"),
    Route("/Roles", read_only, methods=["POST", "PUT", "PATCH", "DELETE"], resource="Role"),
    Route("/Roles/{role_id}", get_role, methods=["GET"], resource="Role"),
    Route(
        "/Roles/{role_id}", read_only, methods=["POST", "PUT", "PATCH", "DELETE"], resource="Role"
    ),
]
