"""``/Users``: the SCIM Users endpoints (RFC 7644 §3), carried out on TelemetryTV users."""

from __future__ import annotations

from scim2_models import Context
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...directory import DirectoryUser
from ...ops.context import note_operation
from ...scim.messages import list_response
from ...scim.models import USER_READ_ONLY, User
from ...scim.params import response_parameters
from ...scim.payloads import read_patch, read_resource
from ...translation.users import UserProvisioning
from ..body import read_json_object
from ..responses import no_content, scim_response
from ..state import proxy_state, read_list_query, scim_base_url, upstream_session


def _users(request: Request, operation: str) -> UserProvisioning:
    note_operation("User", operation)
    session = upstream_session(request)
    return UserProvisioning(session, proxy_state(request).settings, scim_base_url(request))


def _user_response(
    request: Request,
    users: UserProvisioning,
    user: DirectoryUser,
    context: Context,
    status: int = 200,
) -> Response:
    params = response_parameters(User, request.query_params)
    headers = {"Location": users.location(user)} if status == 201 else None
    return scim_response(users.document(user, params, context), status, headers)


async def list_users(request: Request) -> Response:
    """GET /Users: a page of users, optionally filtered."""
    users = _users(request, "list")
    query = read_list_query(request)
    params = response_parameters(User, request.query_params)
    found, total = await users.search(query)
    resources = [users.document(u, params, Context.SEARCH_RESPONSE) for u in found]
    return scim_response(list_response(resources, total=total, start_index=query.start_index))


async def create_user(request: Request) -> Response:
    """POST /Users: create a user; 201 with the user and its Location."""
    users = _users(request, "create")
    resource = read_resource(User, await read_json_object(request), replacing=False)
    created = await users.create(resource)
    return _user_response(request, users, created, Context.RESOURCE_CREATION_RESPONSE, 201)


async def get_user(request: Request) -> Response:
    """GET /Users/{id}."""
    users = _users(request, "get")
    user = await users.get(request.path_params["user_id"])
    return _user_response(request, users, user, Context.RESOURCE_QUERY_RESPONSE)


async def replace_user(request: Request) -> Response:
    """PUT /Users/{id}: Okta's App Integration Wizard apps update this way."""
    users = _users(request, "replace")
    resource = read_resource(User, await read_json_object(request), replacing=True)
    user = await users.replace(request.path_params["user_id"], resource)
    return _user_response(request, users, user, Context.RESOURCE_REPLACEMENT_RESPONSE)


async def patch_user(request: Request) -> Response:
    """PATCH /Users/{id}: Okta's OIN apps and Entra update this way; 200 with the user."""
    users = _users(request, "patch")
    patch = read_patch(User, await read_json_object(request), read_only=USER_READ_ONLY)
    user = await users.patch(request.path_params["user_id"], patch)
    return _user_response(request, users, user, Context.RESOURCE_PATCH_RESPONSE)


async def delete_user(request: Request) -> Response:
    """DELETE /Users/{id}: Entra's hard delete; 204."""
    users = _users(request, "delete")
    await users.delete(request.path_params["user_id"])
    return no_content()


routes = [
    Route("/Users", list_users, methods=["GET"]),
    Route("/Users", create_user, methods=["POST"]),
    Route("/Users/{user_id}", get_user, methods=["GET"]),
    Route("/Users/{user_id}", replace_user, methods=["PUT"]),
    Route("/Users/{user_id}", patch_user, methods=["PATCH"]),
    Route("/Users/{user_id}", delete_user, methods=["DELETE"]),
]
