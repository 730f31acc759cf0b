"""``/Groups``: the SCIM Groups endpoints, carried out on TelemetryTV user groups."""

from __future__ import annotations

from scim2_models import Context
from starlette.requests import Request
from starlette.responses import Response

from ...scim.limits import check_patch, check_resource
from ...scim.messages import list_response
from ...scim.models import GROUP_READ_ONLY, Group
from ...scim.params import response_parameters
from ...scim.payloads import read_patch_in_slices, read_resource
from ...translation.groups import GroupProvisioning, GroupView, wants_members
from ..body import read_json_object
from ..responses import no_content, scim_response
from ..routing import Route
from ..state import proxy_state, read_list_query, scim_base_url, token_key, upstream_session


def _groups(request: Request) -> GroupProvisioning:
    session = upstream_session(request)
    state = proxy_state(request)
    return GroupProvisioning(session, state.settings, scim_base_url(request), state.coordinator)


def _names_changed(request: Request) -> None:
    """A rename or delete here shows in users' roles at once, not after the kept listing."""
    proxy_state(request).group_names.forget(token_key(request))


def _group_response(
    request: Request,
    groups: GroupProvisioning,
    group: GroupView,
    context: Context,
    status: int = 200,
) -> Response:
    params = response_parameters(Group, request.query_params)
    headers = {"Location": groups.location(group)} if status == 201 else None
    return scim_response(groups.document(group, params, context), status, headers)


async def list_groups(request: Request) -> Response:
    """GET /Groups: a page of groups, members included unless excluded."""
    groups = _groups(request)
    query = read_list_query(request)
    params = response_parameters(Group, request.query_params)
    found, total = await groups.search(query, with_members=wants_members(params))
    resources = [groups.document(g, params, Context.SEARCH_RESPONSE) for g in found]
    return scim_response(list_response(resources, total=total, start_index=query.start_index))


async def create_group(request: Request) -> Response:
    """POST /Groups: create a group (with its members, if any); 201."""
    groups = _groups(request)
    body = await read_json_object(request)
    check_resource(Group, body, proxy_state(request).limits)
    resource = read_resource(Group, body, replacing=False)
    created = await groups.create(resource)
    return _group_response(request, groups, created, Context.RESOURCE_CREATION_RESPONSE, 201)


async def get_group(request: Request) -> Response:
    """GET /Groups/{id}."""
    groups = _groups(request)
    params = response_parameters(Group, request.query_params)
    group = await groups.get(request.path_params["group_id"], with_members=wants_members(params))
    return _group_response(request, groups, group, Context.RESOURCE_QUERY_RESPONSE)


async def replace_group(request: Request) -> Response:
    """PUT /Groups/{id}: Okta AIW apps send the name and the whole member list."""
    groups = _groups(request)
    body = await read_json_object(request)
    check_resource(Group, body, proxy_state(request).limits)
    resource = read_resource(Group, body, replacing=True)
    group = await groups.replace(request.path_params["group_id"], resource)
    _names_changed(request)
    return _group_response(request, groups, group, Context.RESOURCE_REPLACEMENT_RESPONSE)


async def patch_group(request: Request) -> Response:
    """PATCH /Groups/{id}: 204, or 200 with the group when attributes are asked for."""
    groups = _groups(request)
    body = await read_json_object(request)
    check_patch(Group, body, proxy_state(request).limits)
    patch = await read_patch_in_slices(Group, body, read_only=GROUP_READ_ONLY)
    group_id = request.path_params["group_id"]
    await groups.patch(group_id, patch)
    _names_changed(request)
    params = response_parameters(Group, request.query_params)
    if params is None:
        # Entra expects 204 from group PATCHes; Okta accepts 204 or 200.
        return no_content()
    group = await groups.get(group_id, with_members=wants_members(params))
    return _group_response(request, groups, group, Context.RESOURCE_PATCH_RESPONSE)


async def delete_group(request: Request) -> Response:
    """DELETE /Groups/{id}: Okta's "Delete the group in the target app"; 204."""
    groups = _groups(request)
    await groups.delete(request.path_params["group_id"])
    _names_changed(request)
    return no_content()


routes = [
    Route("/Groups", list_groups, methods=["GET"], resource="Group"),
    Route("/Groups", create_group, methods=["POST"], resource="Group"),
    Route("/Groups/{group_id}", get_group, methods=["GET"], resource="Group"),
    Route("/Groups/{group_id}", replace_group, methods=["PUT"], resource="Group"),
    Route("/Groups/{group_id}", patch_group, methods=["PATCH"], resource="Group"),
    Route("/Groups/{group_id}", delete_group, methods=["DELETE"], resource="Group"),
]
