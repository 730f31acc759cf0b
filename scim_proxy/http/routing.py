"""The route table: which endpoint serves a request's method and path.

Every path the proxy serves is a fixed path (``/scim/v2/Users``) or a fixed path and one
last segment naming a resource (``/scim/v2/Users/{user_id}``), so a path is found by two
dict lookups rather than by trying patterns in turn:

- a route for the whole path and the method wins; else a route for what comes before the
  path's last ``/`` and the method, with that last (non-empty) segment as its parameter;
- a path some route serves with other methods is a 405, with ``Allow`` listing them all;
- any other path is a 404.

The path is taken as the pipeline hands it over (``http/pipeline.py`` has already removed
repeated and trailing slashes and put resource names in their canonical spelling).
``GET`` routes also serve ``HEAD``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_OPERATIONS = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
"""The SCIM operation of a request to a resource route, by method (GET: list or get)."""


class Route:
    """A path (``/Users`` or ``/Users/{user_id}``) served by ``endpoint`` for ``methods``.

    ``resource`` names the SCIM resource type the path addresses (``User``), for the
    request's log event and metrics, known from the route alone: a request refused before
    its endpoint runs (the auth guard, a 405) is logged with it too. Its operation follows
    the method (``GET`` is ``list`` on a collection, ``get`` by id; ``POST`` ``create``,
    ``PUT`` ``replace``...) unless ``operation`` names it.
    """

    __slots__ = ("endpoint", "head", "methods", "operations", "param", "path", "resource")

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        methods: Iterable[str],
        resource: str | None = None,
        operation: str | None = None,
    ) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{path}: endpoints are async functions of a Request")
        self.path = path
        self.endpoint = endpoint
        upper = {method.upper() for method in methods}
        if "GET" in upper:
            upper.add("HEAD")
        self.methods = frozenset(upper)
        self.resource = resource
        head, _, last = path.rpartition("/")
        if "{" in head or "}" in head:
            raise ValueError(f"{path}: only a last-segment {{name}} parameter is routed")
        if last.startswith("{") and last.endswith("}"):
            if not last[1:-1].isidentifier():
                raise ValueError(f"{path}: only plain {{name}} parameters are routed")
            self.head: str = head
            """The fixed part: the whole path, or what comes before ``/{param}``."""
            self.param: str | None = last[1:-1]
        elif "{" in last or "}" in last:
            raise ValueError(f"{path}: only plain {{name}} parameters are routed")
        else:
            self.head, self.param = path, None
        read = "list" if self.param is None else "get"
        self.operations: dict[str, str | None] = {
            method: None if resource is None else operation or _OPERATIONS.get(method, read)
            for method in self.methods
        }
        """The SCIM operation of a request by method (None without a ``resource``)."""

    def under(self, prefix: str) -> Route:
        """The same route served at ``prefix`` + its path."""
        route = Route(prefix + self.path, self.endpoint, methods=self.methods)
        route.resource, route.operations = self.resource, self.operations
        return route

    def __repr__(self) -> str:
        return f"Route({self.path!r}, {self.endpoint.__name__}, {sorted(self.methods)})"


class Found(NamedTuple):
    """What the table found for one request: a route to call, or why there is none.

    ``allowed`` empty and ``route`` set: call ``route.endpoint`` with ``params``.
    ``allowed`` set: a 405; the path is served with those methods (``route`` is its first
    route, whose template is logged). ``route`` None: a 404.
    """

    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...] = ()


_NOT_FOUND = Found(None, {})


class RouteTable:
    """The routes of the app, looked up by method and path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self._fixed: dict[str, dict[str, Route]] = {}
        self._templated: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            table = self._fixed if route.param is None else self._templated
            by_method = table.setdefault(route.head, {})
            for method in route.methods:
                if method in by_method:
                    raise ValueError(f"{route.path}: {method} is routed twice")
                by_method[method] = route

    def find(self, method: str, path: str) -> Found:
        """The route serving ``method`` on ``path``, else why none does (405 or 404)."""
        fixed = self._fixed.get(path)
        if fixed is not None:
            route = fixed.get(method)
            if route is not None:
                return Found(route, {})
        head, _, last = path.rpartition("/")
        templated = self._templated.get(head) if last else None
        if templated is not None:
            route = templated.get(method)
            if route is not None:
                assert route.param is not None
                return Found(route, {route.param: last})
        served = [*(fixed or {}).values(), *(templated or {}).values()]
        if not served:
            return _NOT_FOUND
        first = served[0]
        params = {} if first.param is None else {first.param: last}
        allowed = {m for route in served for m in route.methods}
        return Found(first, params, _in_order(allowed))


def _in_order(methods: set[str]) -> tuple[str, ...]:
    known = [m for m in _METHOD_ORDER if m in methods]
    return (*known, *sorted(methods.difference(_METHOD_ORDER)))
