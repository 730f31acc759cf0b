"""One upstream exchange: the request the transport receives, and the answer read from it."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from scim_proxy.directory import NewUser
from scim_proxy.ops.context import start_request_stats
from scim_proxy.telemetrytv import BadResponse, ConnectionFailed, TelemetryTV
from scim_proxy.telemetrytv.errors import InvalidRequest
from scim_proxy.telemetrytv.exchange import CACHED_URL_LENGTH, upstream_url
from scim_proxy.telemetrytv.transport import TransportKind, build_transport

pytestmark = pytest.mark.anyio

BASE = "https://api.test/v1"
USER_ID = "65a1f0c2e4b0a1b2c3d4e5f6"
USER = {
    "id": USER_ID,
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "user_group_ids": [],
    "disabled": False,
}


class Recorder:
    """A MockTransport's handler that keeps what reached it and gives one answer."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response


class Chunks(httpx.AsyncByteStream):
    """A body as a transport streams it: chunk by chunk, then closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


async def test_the_transport_receives_the_request_as_the_adapter_means_it() -> None:
    recorder = Recorder(httpx.Response(201, json=USER))
    tv = TelemetryTV(httpx.MockTransport(recorder), base_url=BASE + "/", read_timeout=7.0)
    await tv.session("tok").create_user(NewUser("ada@example.com", "Ada", "Lovelace", "pw-1!Aa"))
    await tv.aclose()
    [request] = recorder.requests
    assert (request.method, str(request.url)) == ("POST", "https://api.test/v1/users")
    assert request.headers["Authorization"] == "Token tok"
    assert request.headers["Host"] == "api.test"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("scim-proxy/")
    assert int(request.headers["Content-Length"]) == len(request.content)
    assert orjson.loads(request.content)["email"] == "ada@example.com"
    assert request.extensions["timeout"] == {
        "connect": 5.0,
        "read": 7.0,
        "write": 7.0,
        "pool": 5.0,
    }


async def test_query_values_are_encoded_into_the_url() -> None:
    recorder = Recorder(httpx.Response(200, json=[]))
    tv = TelemetryTV(httpx.MockTransport(recorder), base_url=BASE)
    await tv.session("tok").find_user_by_email("a.b+c&d=e f@example.com")
    await tv.session("tok").list_users(3, 50, group_id="g1")
    await tv.aclose()
    assert [dict(r.url.params) for r in recorder.requests] == [
        {"email": "a.b+c&d=e f@example.com"},
        {"page": "3", "per_page": "50", "user_group_id": "g1"},
    ]
    assert all(r.url.path == "/v1/users" for r in recorder.requests)


async def test_a_call_with_little_budget_left_waits_no_longer_than_that() -> None:
    recorder = Recorder(httpx.Response(200, json=USER))
    tv = TelemetryTV(httpx.MockTransport(recorder), base_url=BASE)

    async def in_request() -> None:
        start_request_stats(2.0)
        await tv.session("tok").get_user(USER_ID)

    await asyncio.create_task(in_request())
    await tv.aclose()
    timeout = recorder.requests[0].extensions["timeout"]
    assert set(timeout.values()) == {timeout["read"]}
    assert 0 < timeout["read"] <= 2.0


async def test_a_streamed_answer_is_read_whole_and_its_stream_closed() -> None:
    body = orjson.dumps(USER)
    stream = Chunks([body[:10], b"", body[10:]])
    tv = TelemetryTV(
        httpx.MockTransport(Recorder(httpx.Response(200, stream=stream))), base_url=BASE
    )
    user = await tv.session("tok").get_user(USER_ID)
    await tv.aclose()
    assert user.email == "ada@example.com"
    assert stream.closed


async def test_a_compressed_answer_is_decoded() -> None:
    stream = Chunks([gzip.compress(orjson.dumps(USER))])
    answer = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream)
    tv = TelemetryTV(httpx.MockTransport(Recorder(answer)), base_url=BASE)
    user = await tv.session("tok").get_user(USER_ID)
    await tv.aclose()
    assert user.email == "ada@example.com"


async def test_a_body_that_fails_half_way_is_a_failed_exchange_and_its_stream_closed() -> None:
    class Broken(Chunks):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b'{"id":'
            raise httpx.ReadError("connection reset")

    stream = Broken([])
    tv = TelemetryTV(
        httpx.MockTransport(Recorder(httpx.Response(200, stream=stream))), base_url=BASE
    )
    with pytest.raises(ConnectionFailed):
        await tv.session("tok").get_user(USER_ID)
    await tv.aclose()
    assert stream.closed


async def test_a_redirect_is_not_followed() -> None:
    recorder = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.test/"}))
    tv = TelemetryTV(httpx.MockTransport(recorder), base_url=BASE)
    with pytest.raises(BadResponse, match="302"):
        await tv.session("tok").get_user(USER_ID)
    await tv.aclose()
    assert len(recorder.requests) == 1


async def test_a_value_too_long_for_a_url_is_refused_as_an_invalid_request() -> None:
    # A conflict's lookup by a very long email or group name would put it in a query
    # past httpx's URL limit: a clear refusal (400 for the client), not an unmapped
    # InvalidURL and a 500, and nothing sent.
    recorder = Recorder(httpx.Response(200, json=[]))
    tv = TelemetryTV(httpx.MockTransport(recorder), base_url=BASE)
    with pytest.raises(InvalidRequest, match="too long"):
        await tv.session("tok").find_user_by_email("a" * 70_000 + "@example.com")
    await tv.aclose()
    assert recorder.requests == []


def test_a_url_called_again_is_parsed_once_and_a_long_one_on_each_call() -> None:
    short = BASE + "/users?email=ada%40example.com"
    assert upstream_url(short) is upstream_url(short)
    assert upstream_url(short) == httpx.URL(short)
    other = BASE + "/users/" + USER_ID
    assert upstream_url(other) == httpx.URL(other) != upstream_url(short)
    long = BASE + "/users?email=" + "a" * CACHED_URL_LENGTH
    assert upstream_url(long) is not upstream_url(long)
    assert upstream_url(long) == httpx.URL(long)


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    """A keep-alive HTTP/1.1 server answering each request with a user as JSON, gzipped
    on request paths under /gz and chunked under /chunked; yields its base URL, by host
    name as production names TelemetryTV."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                body = orjson.dumps({**USER, "email": f"{len(path)}@example.com"})
                headers = b"Content-Type: application/json\r\n"
                if path.startswith(b"/gz"):
                    body = gzip.compress(body)
                    headers += b"Content-Encoding: gzip\r\n"
                if path.startswith(b"/chunked"):
                    half = len(body) // 2
                    payload = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
                        half,
                        body[:half],
                        len(body) - half,
                        body[half:],
                    )
                    headers += b"Transfer-Encoding: chunked\r\n"
                else:
                    payload = body
                    headers += b"Content-Length: %d\r\n" % len(body)
                writer.write(b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n" + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://localhost:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("kind", list(TransportKind))
async def test_answers_over_a_real_connection_are_read_whole_and_the_connection_reused(
    kind: TransportKind, http_server: str
) -> None:
    # One pooled connection and a short pool timeout: an answer whose connection was
    # not given back would leave the next call waiting for it until it failed.
    transport = build_transport(transport=kind, pool_size=1)
    for base in (http_server, http_server + "/gz", http_server + "/chunked"):
        tv = TelemetryTV(transport, base_url=base, connect_timeout=2.0, read_timeout=2.0)
        for _ in range(2):
            user = await tv.session("tok").get_user(USER_ID)
            path = base.removeprefix(http_server) + f"/users/{USER_ID}"
            assert user.email == f"{len(path)}@example.com"
    await transport.aclose()
