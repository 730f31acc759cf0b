"""``/Users``: the SCIM Users endpoints (RFC 7644 §3), carried out on TelemetryTV users."""

from __future__ import annotations

from typing import Any

from scim2_models import Context
from starlette.requests import Request
from starlette.responses import Response

from ...directory import DirectoryUser
from ...ops.context import note_quirk
from ...scim.limits import check_patch, check_resource
from ...scim.messages import list_response
from ...scim.models import USER_READ_ONLY, User
from ...scim.params import response_parameters
from ...scim.payloads import (
    read_patch_in_slices,
    read_resource,
    read_user_creation,
)
from ...scim.roles_in_patch import echoed_group_ids, split_role_operations, without_roles
from ...translation.roles import UserRoles
from ...translation.users import UserProvisioning
from ..body import read_json_object
from ..responses import no_content, scim_response
from ..routing import Route
from ..state import (
    membership_writer,
    proxy_state,
    read_list_query,
    scim_base_url,
    token_key,
    upstream_session,
)


def _users(request: Request) -> UserProvisioning:
    session = upstream_session(request)
    state = proxy_state(request)
    roles = None
    if state.settings.roles.enabled:
        roles = UserRoles(
            session, state.group_names, token_key(request), membership_writer(request, session)
        )
    return UserProvisioning(session, state.settings, scim_base_url(request), roles)


async def _body(request: Request, users: UserProvisioning) -> dict[str, Any]:
    """The request body (within the request limits); with roles off, ``roles`` is dropped
    like any unknown attribute."""
    body = await read_json_object(request)
    check_resource(User, body, proxy_state(request).limits)
    if users.roles is None:
        trimmed = without_roles(body)
        if trimmed != body:
            note_quirk("roles_disabled_ignored")
        return trimmed
    return body


async def _user_response(
    request: Request,
    users: UserProvisioning,
    user: DirectoryUser,
    context: Context,
    status: int = 200,
) -> Response:
    # Without a query string (an IdP's read by id, every write) there is no selection:
    # Starlette's query parameters are not even parsed.
    query = request.scope.get("query_string")
    params = response_parameters(User, request.query_params) if query else None
    headers = {"Location": users.location(user)} if status == 201 else None
    names = await users.role_names([user], params)
    return scim_response(users.document(user, params, context, names), status, headers)


async def list_users(request: Request) -> Response:
    """GET /Users: a page of users, optionally filtered."""
    users = _users(request)
    query = read_list_query(request)
    params = response_parameters(User, request.query_params)
    found, total = await users.search(query)
    names = await users.role_names(found, params)
    resources = users.documents(found, params, Context.SEARCH_RESPONSE, names)
    return scim_response(list_response(resources, total=total, start_index=query.start_index))


async def create_user(request: Request) -> Response:
    """POST /Users: create a user; 201 with the user and its Location."""
    users = _users(request)
    creation = read_user_creation(await _body(request, users))
    created = await users.create(creation)
    return await _user_response(request, users, created, Context.RESOURCE_CREATION_RESPONSE, 201)


async def get_user(request: Request) -> Response:
    """GET /Users/{id}."""
    users = _users(request)
    user = await users.get(request.path_params["user_id"])
    return await _user_response(request, users, user, Context.RESOURCE_QUERY_RESPONSE)


async def replace_user(request: Request) -> Response:
    """PUT /Users/{id}: Okta's App Integration Wizard apps update this way."""
    users = _users(request)
    body = await _body(request, users)
    resource = read_resource(User, body, replacing=True)
    echoed = echoed_group_ids(body)
    user = await users.replace(request.path_params["user_id"], resource, echoed)
    return await _user_response(request, users, user, Context.RESOURCE_REPLACEMENT_RESPONSE)


async def patch_user(request: Request) -> Response:
    """PATCH /Users/{id}: Okta's OIN apps and Entra update this way; 200 with the user."""
    users = _users(request)
    whole = await read_json_object(request)
    check_patch(User, whole, proxy_state(request).limits)
    body, role_body = split_role_operations(whole)
    if role_body is not None and users.roles is None:
        note_quirk("roles_disabled_ignored")
    patch = await read_patch_in_slices(User, body, read_only=USER_READ_ONLY)
    role_patch = (
        await read_patch_in_slices(User, role_body)
        if role_body and users.roles is not None
        else None
    )
    user = await users.patch(request.path_params["user_id"], patch, role_patch)
    return await _user_response(request, users, user, Context.RESOURCE_PATCH_RESPONSE)


async def delete_user(request: Request) -> Response:
    """DELETE /Users/{id}: Entra's hard delete; 204."""
    users = _users(request)
    await users.delete(request.path_params["user_id"])
    return no_content()


routes = [
    Route("/Users", list_users, methods=["GET"], resource="User"),
    Route("/Users", create_user, methods=["POST"], resource="User"),
    Route("/Users/{user_id}", get_user, methods=["GET"], resource="User"),
    Route("/Users/{user_id}", replace_user, methods=["PUT"], resource="User"),
    Route("/Users/{user_id}", patch_user, methods=["PATCH"], resource="User"),
    Route("/Users/{user_id}", delete_user, methods=["DELETE"], resource="User"),
]
