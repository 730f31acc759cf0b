"""Routing by lookup: a request's method and path to its endpoint, in two dict hits.

Every route the proxy serves is either a fixed path (``/scim/v2/Users``) or a fixed path
and one last ``{param}`` segment (``/scim/v2/Users/{user_id}``), so rather than trying
each route's regex in turn (Starlette's router), a path is looked up whole, then by what
comes before its last ``/``. The answer is the one Starlette's router gives for the same
table: the first route in table order that matches path and method; else, when some
route matches the path, 405 (as the first such route); else 404. Both errors are raised
as Starlette's ``HTTPException``, rendered by ``http/errors.py`` as SCIM errors.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

Endpoint = Callable[[Request], Awaitable[Response]]

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True, slots=True)
class Target:
    """One route under one method: what the front door calls and what it logs."""

    order: int
    """The route's place in the table: the first match wins, as in Starlette's router."""
    route: Route
    """Put in ``scope["route"]``: the ``request`` event logs its path template."""
    endpoint: Endpoint
    param: str | None
    """The name of the last segment's path parameter, None for a fixed path."""


class RouteTable:
    """The routes of the app, looked up by method and path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._fixed: dict[str, dict[str, Target]] = {}
        self._templated: dict[str, dict[str, Target]] = {}
        # Every route on a path shape, in table order: the first is the one a 405 names.
        self._fixed_any: dict[str, list[Target]] = {}
        self._templated_any: dict[str, list[Target]] = {}
        for order, route in enumerate(routes):
            if not inspect.iscoroutinefunction(route.endpoint):
                raise TypeError(f"{route.path}: endpoints are async functions of a Request")
            head, param = _shape(route.path)
            target = Target(order, route, route.endpoint, param)
            by_method = self._fixed if param is None else self._templated
            everyone = self._fixed_any if param is None else self._templated_any
            # Starlette's route patterns end in ``$``, which also matches before a final
            # newline: its router serves ``/healthz%0A`` as ``/healthz``. So does the table.
            for key in (head,) if param is not None else (head, head + "\n"):
                everyone.setdefault(key, []).append(target)
                methods = by_method.setdefault(key, {})
                for method in route.methods or ():
                    methods.setdefault(method, target)  # an earlier route keeps the method

    def resolve(self, scope: Scope) -> Endpoint:
        """The endpoint for the scope's method and path, with its route and parameters put in
        the scope (``route``, ``endpoint``, ``path_params``); 404 or 405 raised otherwise."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path:
            path = _route_path(path, root_path)
        method: str = scope["method"]
        fixed = self._fixed.get(path)
        found = fixed.get(method) if fixed is not None else None
        head, _, last = path.rpartition("/")
        if last:
            templated = self._templated.get(head)
            if templated is not None:
                candidate = templated.get(method)
                if candidate is not None and (found is None or candidate.order < found.order):
                    found = candidate
        if found is None:
            self._refuse(scope, path, head, last)
        assert found is not None
        scope["route"] = found.route
        scope["endpoint"] = found.endpoint
        scope["path_params"] = {} if found.param is None else {found.param: last}
        return found.endpoint

    def _refuse(self, scope: Scope, path: str, head: str, last: str) -> None:
        """Raise 405 when some route serves the path with other methods, else 404."""
        shapes = [*self._fixed_any.get(path, ())]
        if last:
            shapes += self._templated_any.get(head, ())
        if not shapes:
            raise HTTPException(404)
        first = min(shapes, key=lambda target: target.order)
        scope["route"] = first.route
        scope["endpoint"] = first.endpoint
        scope["path_params"] = {} if first.param is None else {first.param: last}
        allowed = {method for target in shapes for method in target.route.methods or ()}
        raise HTTPException(405, headers={"Allow": ", ".join(_in_order(allowed))})


def _shape(path: str) -> tuple[str, str | None]:
    """``("/scim/v2/Users", "user_id")`` for ``/scim/v2/Users/{user_id}``; else ``(path, None)``."""
    head, _, last = path.rpartition("/")
    if last.startswith("{") and last.endswith("}") and "{" not in head:
        name = last[1:-1]
        if not name.isidentifier():
            raise ValueError(f"{path}: only plain {{name}} parameters are routed")
        return head, name
    if "{" in path:
        raise ValueError(f"{path}: only a last-segment {{name}} parameter is routed")
    return path, None


def _route_path(path: str, root_path: str) -> str:
    """The path routes see under a root path, as Starlette's ``get_route_path`` gives it."""
    if not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path) :] if path[len(root_path)] == "/" else path


def _in_order(methods: set[str]) -> list[str]:
    known = [m for m in _METHOD_ORDER if m in methods]
    return known + sorted(methods.difference(_METHOD_ORDER))
