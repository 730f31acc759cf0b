"""Forwarded client addresses and schemes are believed exactly as uvicorn believes them."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from scim_proxy.http.forwarded import ForwardedHeaders

ADDRESSES = st.sampled_from(
    ["127.0.0.1", "10.0.0.7", "10.1.2.3", "192.0.2.9", "::1", "2001:db8::5", "unix", ""]
)
TRUSTED = st.lists(
    st.sampled_from(["127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "unix", "*"]),
    min_size=1,
    max_size=3,
)
FORWARDED_FOR = st.lists(
    st.one_of(ADDRESSES, st.sampled_from(["198.51.100.1:8443", "[2001:db8::9]:80", " ", "x"])),
    max_size=4,
).map(", ".join)
HEADERS = st.lists(
    st.one_of(
        st.tuples(st.just(b"x-forwarded-for"), FORWARDED_FOR.map(str.encode)),
        st.tuples(
            st.just(b"x-forwarded-proto"),
            st.sampled_from([b"https", b"http", b" https ", b"wss", b"ftp", b""]),
        ),
        st.tuples(st.just(b"user-agent"), st.just(b"Okta SCIM Client 1.0.0")),
    ),
    max_size=4,
)


async def uvicorns_reading(trusted: list[str], scope: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    await ProxyHeadersMiddleware(app, trusted_hosts=trusted)(scope, None, None)  # type: ignore[arg-type]
    return seen


@given(
    trusted=TRUSTED,
    peer=st.one_of(st.none(), ADDRESSES.map(lambda host: (host, 50000))),
    headers=HEADERS,
)
@example(trusted=["127.0.0.1"], peer=("127.0.0.1", 1), headers=[(b"x-forwarded-for", b"")])
@example(
    trusted=["127.0.0.1"],
    peer=("127.0.0.1", 1),
    headers=[(b"x-forwarded-for", b"10.0.0.1"), (b"x-forwarded-for", b"192.0.2.9, 127.0.0.1")],
)
def test_the_scope_is_changed_as_uvicorns_middleware_changes_it(
    trusted: list[str], peer: tuple[str, int] | None, headers: list[tuple[bytes, bytes]]
) -> None:
    scope: dict[str, Any] = {"type": "http", "scheme": "http", "headers": headers}
    if peer is not None:
        scope["client"] = peer
    expected = asyncio.run(uvicorns_reading(trusted, dict(scope)))
    ForwardedHeaders(trusted).apply(scope)
    assert scope == expected


def test_every_uvicorn_the_package_allows_reads_the_headers_as_the_front_door_does() -> None:
    # forwarded.py calls uvicorn's matcher (``get_trusted_client_address``: uvicorn 0.45)
    # and reads the headers as uvicorn's middleware has since 0.49 (each X-Forwarded-For
    # line, joined). With an older uvicorn the front door would fail on every forwarded
    # request, or believe another address than the middleware it replaced.
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [requirement] = [d for d in pyproject["project"]["dependencies"] if d.startswith("uvicorn")]
    floor = re.fullmatch(r"uvicorn>=(\d+)\.(\d+)(?:\.\d+)?", requirement)
    assert floor is not None, requirement
    assert (int(floor[1]), int(floor[2])) >= (0, 49)
