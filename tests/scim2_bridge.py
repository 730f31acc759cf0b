"""scim2-client's ASGI engine behind the synchronous client interface scim2-tester takes.

``scim2_tester.check_server`` drives a :class:`~scim2_client.BaseSyncSCIMClient`, and
scim2-tester has no asynchronous entry point; the in-process engine for ASGI apps,
:class:`~scim2_client.engines.asgi.ASGISCIMClient`, is asynchronous. Every SCIM step of
both clients (payload building, status, content-type and schema validation) lives in
their shared base class :class:`~scim2_client.SCIMClient`; an engine only contributes
``request()``, the raw HTTP exchange. So :class:`PortalSCIMClient` is a synchronous
client whose ``request()`` hands the ASGI engine's coroutine to an event loop running
in another thread (an anyio :class:`~anyio.from_thread.BlockingPortal`) and waits for it.

:func:`asgi_scim_client` starts that loop, closes the app on it afterwards (what the
lifespan's shutdown does), then stops the loop. The app and everything it awaits (the
proxy, its upstream ``httpx.AsyncClient``, the simulator behind ``httpx.ASGITransport``)
only ever run on that one loop: no socket, no server, no second loop touching the same
objects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import aclosing, contextmanager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from scim2_client import BaseSyncSCIMClient
from scim2_client.client import RawResponse
from scim2_client.engines.asgi import ASGISCIMClient

from scim_proxy.http.pipeline import ProxyApp


class PortalSCIMClient(BaseSyncSCIMClient):
    """A synchronous SCIM client whose requests an async engine sends on a portal's loop.

    Only the transport is delegated: the SCIM description (``provider``), response
    checking and the high-level methods are this client's own, as in any sync engine.
    """

    def __init__(
        self, engine: ASGISCIMClient, portal: BlockingPortal, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.engine = engine
        self.portal = portal

    def request(self, method: str, url: str, **kwargs: Any) -> RawResponse:
        """Send the request through the ASGI engine, on the portal's event loop."""
        response: RawResponse = self.portal.call(
            functools.partial(self.engine.request, method, url, **kwargs)
        )
        return response


@contextmanager
def asgi_scim_client(
    app: ProxyApp, base_url: str, headers: Mapping[str, str] | None = None, **kwargs: Any
) -> Iterator[PortalSCIMClient]:
    """A sync SCIM client of ``app``, served in-process on a dedicated event loop.

    The app is closed on that loop after the client's use, as its lifespan's shutdown
    would close it (scim2-client's ASGI engine sends no lifespan messages). ``kwargs`` go
    to :class:`PortalSCIMClient` (``provider``, ``check_response_payload``...).
    """
    engine = ASGISCIMClient(app, base_url=base_url, headers=dict(headers or {}))
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(aclosing(app)),
    ):
        yield PortalSCIMClient(engine, portal, **kwargs)
