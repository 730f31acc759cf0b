"""What the HTTP layer keeps for the life of the process, and per-request helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Scope

from ..ops.config import Settings
from ..ops.context import request_stats
from ..ops.fingerprint import token_fingerprint
from ..scim.limits import RequestLimits
from ..scim.params import ListQuery, list_query
from ..telemetrytv.client import TelemetryTV, TelemetryTVSession
from ..translation.memberships import Coordinator, MembershipWriter
from ..translation.role_names import GroupNames
from .auth import token_from_header

if TYPE_CHECKING:
    from ..ops.spans import Tracing

SCIM_PREFIX = "/scim/v2"


@dataclass(frozen=True)
class ProxyState:
    """The settings and the upstream adapter shared by every request."""

    settings: Settings
    upstream: TelemetryTV
    coordinator: Coordinator
    """How membership writers coordinate (``groups.coordination``), with its locks."""
    tracing: Tracing | None = None
    """The process's tracer when traces are exported (``ops/tracing.py``), else None."""
    group_names: GroupNames = field(init=False)
    """Kept listings of group names for users' roles (``[roles] names_cache_seconds``)."""
    limits: RequestLimits = field(init=False)
    """How much one write may name (``[scim] max_*``), checked before it is read."""

    def __post_init__(self) -> None:
        # Derived, never passed: the lifetime is the setting's, whoever builds the state.
        object.__setattr__(self, "group_names", GroupNames.from_settings(self.settings))
        object.__setattr__(self, "limits", RequestLimits.from_settings(self.settings.scim))


def proxy_state(request: Request) -> ProxyState:
    """The process-wide state of the app serving ``request``."""
    return proxy_state_of(request.scope)


def proxy_state_of(scope: Scope) -> ProxyState:
    """The process-wide state of the app a request's ``scope`` is served by (Starlette puts
    the app in ``scope["app"]``), for code that runs before a ``Request`` is made."""
    state: ProxyState = scope["app"].state.proxy
    return state


def upstream_session(request: Request) -> TelemetryTVSession:
    """An upstream session acting with the token ``request`` carries (401 if none)."""
    token = token_from_header(request.headers.get("authorization"))
    state = proxy_state(request)
    request_stats().token_fingerprint = token_fingerprint(
        token, state.settings.logging.fingerprint_key
    )
    return state.upstream.session(token)


def membership_writer(
    request: Request, session: TelemetryTVSession | None = None
) -> MembershipWriter:
    """The coordinated writer of users' group lists, acting with this request's token.

    ``session``: the request's upstream session if one is open already (a second one
    would only parse and fingerprint the same token again).
    """
    state = proxy_state(request)
    return MembershipWriter(
        session or upstream_session(request), state.settings.groups, state.coordinator
    )


_base_urls: dict[tuple[object, ...], str] = {}


def scim_base_url(request: Request) -> str:
    """The SCIM base URL for ``meta.location``: configured, else this request's own.

    A request's own base URL depends only on its scheme, Host header, server address
    and root path; building it with Starlette's URL objects costs more than a lookup.
    """
    configured = proxy_state(request).settings.server.public_base_url
    if configured:
        return configured.rstrip("/")
    scope = request.scope
    key = (
        scope.get("scheme"),
        request.headers.get("host"),
        scope.get("server"),
        scope.get("root_path"),
        scope.get("app_root_path"),
    )
    found = _base_urls.get(key)
    if found is None:
        found = str(request.base_url).rstrip("/") + SCIM_PREFIX
        if len(_base_urls) >= 256:
            _base_urls.clear()  # bounded: Host headers are the client's to choose
        _base_urls[key] = found
    return found


def read_list_query(request: Request) -> ListQuery:
    """A list request's filter and paging, within the configured counts.

    The filter is also put on the request's bookkeeping, which logs it only when
    ``logging.include_values`` allows.
    """
    settings = proxy_state(request).settings.scim
    query = list_query(
        request.query_params, default_count=settings.default_count, max_count=settings.max_count
    )
    request_stats().filter_text = query.filter
    return query


def token_key(request: Request) -> str:
    """What per-token state is kept under: the token's fingerprint, never the token.

    Set by :func:`upstream_session`, which every SCIM endpoint opens first.
    """
    return request_stats().token_fingerprint or ""
