"""The floor a real proxy cannot beat: a minimal forwarder for the benchmarked operations.

Plain Starlette routes that call the simulator through a plain httpx client over the
same aiohttp transport as the proxy (one pool) and reshape the JSON into SCIM, with no validation,
no logging, no metrics, no error mapping. Run it like the proxy:

    python -m bench.forwarder --port 8090 --upstream http://127.0.0.1:8081 --workers 2
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import httpx
import orjson
import uvicorn
from httpx_aiohttp import AiohttpTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

UPSTREAM = os.environ.get("FORWARDER_UPSTREAM", "http://127.0.0.1:8081")
USER_NAME = re.compile(r'userName eq "([^"]*)"')
# A plain httpx client over the aiohttp transport, pooled as the proxy's: the baseline
# the issue names. It stays plain on purpose (httpx's cookie jar included), so that the
# proxy's own savings in its client (telemetrytv/transport.py) show in the ratio.
_limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
http = httpx.AsyncClient(
    transport=AiohttpTransport(limits=_limits, trust_env=False),
    timeout=httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0),
    limits=_limits,
    trust_env=False,
)


def _user(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": u["id"],
        "userName": u["email"],
        "name": {"givenName": u["first_name"], "familyName": u["last_name"]},
        "active": not u["disabled"],
        "emails": [{"value": u["email"], "type": "work", "primary": True}],
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/scim+json")


def _auth(request: Request) -> dict[str, str]:
    token = request.headers.get("authorization", "").partition(" ")[2]
    return {"Authorization": f"Token {token}", "Content-Type": "application/json"}


def _list(users: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "itemsPerPage": len(users),
        "startIndex": 1,
        "Resources": [_user(u) for u in users],
    }


async def get_user(request: Request) -> Response:
    r = await http.get(f"{UPSTREAM}/users/{request.path_params['id']}", headers=_auth(request))
    return _json(_user(orjson.loads(r.content)), r.status_code)


async def list_users(request: Request) -> Response:
    match = USER_NAME.search(request.query_params.get("filter", ""))
    if match:
        params: dict[str, Any] = {"email": match.group(1)}
    else:
        count = int(request.query_params.get("count", "100"))
        start = int(request.query_params.get("startIndex", "1"))
        params = {"page": (start - 1) // count + 1, "per_page": count}
    r = await http.get(f"{UPSTREAM}/users", params=params, headers=_auth(request))
    users = orjson.loads(r.content)
    return _json(_list(users, int(r.headers.get("Total-Records-Count", len(users)))))


async def create_user(request: Request) -> Response:
    body = orjson.loads(await request.body())
    upstream = {
        "email": body["userName"],
        "first_name": body["name"]["givenName"],
        "last_name": body["name"]["familyName"],
        "password": body.get("password", "Forwarder-pw-1!"),
    }
    r = await http.post(f"{UPSTREAM}/users", content=orjson.dumps(upstream), headers=_auth(request))
    return _json(_user(orjson.loads(r.content)), r.status_code)


async def patch_user(request: Request) -> Response:
    body = orjson.loads(await request.body())
    active = body["Operations"][0]["value"]["active"]
    r = await http.patch(
        f"{UPSTREAM}/users/{request.path_params['id']}",
        content=orjson.dumps({"disabled": not active}),
        headers=_auth(request),
    )
    return _json(_user(orjson.loads(r.content)), r.status_code)


async def get_group(request: Request) -> Response:
    group_id = request.path_params["id"]
    headers = _auth(request)
    g = orjson.loads(
        (await http.get(f"{UPSTREAM}/user-groups/{group_id}", headers=headers)).content
    )
    members: list[dict[str, Any]] = []
    page = 1
    while True:
        r = await http.get(
            f"{UPSTREAM}/users",
            params={"user_group_id": group_id, "page": page, "per_page": 100},
            headers=headers,
        )
        batch = orjson.loads(r.content)
        members += batch
        if len(batch) < 100:
            break
        page += 1
    return _json(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": g["id"],
            "displayName": g["name"],
            "members": [{"value": u["id"], "display": u["email"]} for u in members],
        }
    )


app = Starlette(
    routes=[
        Route("/scim/v2/Users/{id}", get_user, methods=["GET"]),
        Route("/scim/v2/Users/{id}", patch_user, methods=["PATCH"]),
        Route("/scim/v2/Users", list_users, methods=["GET"]),
        Route("/scim/v2/Users", create_user, methods=["POST"]),
        Route("/scim/v2/Groups/{id}", get_group, methods=["GET"]),
    ]
)


def main() -> None:
    """Serve the forwarder with uvicorn, as the proxy is served."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--upstream", default=UPSTREAM)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ["FORWARDER_UPSTREAM"] = args.upstream
    uvicorn.run(
        "bench.forwarder:app",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
