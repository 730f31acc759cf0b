"""``check`` names a network failure as what it is, under real local conditions.

Each condition is real on 127.0.0.1: a closed port, a TLS handshake against a plain-HTTP
port, and a server that accepts connections and never answers. A name under ``.invalid``
(which never resolves, RFC 6761) fails in the process's resolver, ``socket.getaddrinfo``,
which both transports call through the event loop: no DNS server is asked. Both
transports are tried: the aiohttp one hides all of these behind ``httpx.ConnectTimeout``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from scim_proxy.ops.config import TransportKind
from scim_proxy.telemetrytv import AuthScheme, ConnectionFailed, UpstreamTimeout
from scim_proxy.telemetrytv.client import TelemetryTV
from scim_proxy.telemetrytv.failures import FailureKind, failure_kind
from scim_proxy.telemetrytv.probe import run_probe
from scim_proxy.telemetrytv.transport import build_http_client, build_transport

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("transport", list(TransportKind))]


@pytest.fixture(autouse=True)
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names looked up; one under ``.invalid`` fails as a resolver says "no such name"."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: bytes | str | None, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name.endswith(".invalid"):
            looked_up.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1024)
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, int]]:
    plain = await asyncio.start_server(_plain_http, "127.0.0.1", 0)
    # Listening, never accepting: the kernel completes the handshake and the request is
    # written, but no answer ever comes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        yield {
            "plain": plain.sockets[0].getsockname()[1],
            "silent": silent.getsockname()[1],
        }
    finally:
        silent.close()
        plain.close()
        await plain.wait_closed()


def _urls(ports: dict[str, int]) -> dict[FailureKind, str]:
    return {
        FailureKind.refused: f"http://127.0.0.1:{_closed_port()}",
        FailureKind.dns: "http://telemetrytv.invalid",
        FailureKind.tls: f"https://127.0.0.1:{ports['plain']}",
        FailureKind.timeout: f"http://127.0.0.1:{ports['silent']}",
    }


async def test_check_names_each_network_failure(
    transport: TransportKind, servers: dict[str, int], resolved: list[str]
) -> None:
    for kind, url in _urls(servers).items():
        async with build_http_client(
            transport=transport, connect_timeout=2.0, read_timeout=0.5
        ) as http:
            [finding] = await run_probe(http, url, "a-token", AuthScheme.token)
        assert finding.item == "TelemetryTV reachable"
        assert not finding.passed
        assert finding.critical
        assert finding.detail.startswith(kind.value), (kind, finding.detail)
        others = {k.value for k in FailureKind} - {kind.value}
        assert not any(finding.detail.startswith(o) for o in others)
        assert "upstream." in finding.fix
    assert set(resolved) == {"telemetrytv.invalid"}


async def test_the_proxy_tells_a_refusal_from_a_timeout(
    transport: TransportKind, servers: dict[str, int]
) -> None:
    """A refused connection is a ConnectionFailed upstream, not an UpstreamTimeout."""
    urls = _urls(servers)
    expected = {FailureKind.refused: ConnectionFailed, FailureKind.timeout: UpstreamTimeout}
    for kind, error in expected.items():
        upstream = TelemetryTV(
            build_transport(transport=transport),
            base_url=urls[kind],
            connect_timeout=2.0,
            read_timeout=0.5,
        )
        try:
            with pytest.raises(error) as raised:
                await upstream.session("a-token").get_user("u1")
        finally:
            await upstream.aclose()
        assert failure_kind(raised.value) is kind
