"""Upstream requests built and sent the short way are the ones httpx's own layers make."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
import pytest
from httpx._client import BoundAsyncStream
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_proxy.telemetrytv import ConnectionFailed, TelemetryTV
from scim_proxy.telemetrytv.errors import InvalidRequest
from scim_proxy.telemetrytv.exchange import RequestFactory, read, send
from scim_proxy.telemetrytv.transport import CookielessClient, TransportKind, build_http_client

pytestmark = pytest.mark.anyio

TIMEOUT: dict[str, float | None] = {"connect": 5.0, "read": 20.0, "write": 20.0, "pool": 5.0}
BASE_HEADERS = [
    ("User-Agent", "python-httpx/0.28"),
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
]
AUTHORIZATION = "Bearer t0k3n"
SESSION_HEADERS = [*BASE_HEADERS, ("Authorization", AUTHORIZATION)]

bases = st.sampled_from(
    [
        "http://telemetrytv.bench",
        "https://api.telemetrytv.com",
        "https://API.example.com:8443/v1",
        "http://127.0.0.1:5000/api/",
        "http://[::1]:8080",
        "https://user:pw@api.example.com",
        "https://api.example.com/v1?x=1",
        "http:///v1",  # no host: httpx sends no Host header
        "https://api.example.com/v1#",  # an empty fragment: the path joins after it
        "https://api.example.com/v1?",
        "http://@api.example.com",
        "http://xn--bcher-kva.example;",  # httpx.Request cannot decode it for a Host
        "http://api.example.com/v1/..",
        "http://api.example.com/a%2Fb/%7e/caf%C3%A9 x",
    ]
)
segment = st.one_of(
    st.text(alphabet=st.sampled_from(list("abcXYZ019-._~/%?#: é+&=\\\t")), max_size=12),
    st.sampled_from([".", "..", "65f1c0de", "a.b"]),
)
paths = st.one_of(
    st.builds(lambda parts: "".join(f"/{p}" for p in parts), st.lists(segment, max_size=3)),
    st.sampled_from(["users", "users/1", ".", "?x=1", "#f", "//other.test/users"]),
)
param_values = st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none())
params = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=6), param_values, max_size=3),
    st.dictionaries(st.sampled_from(["email", "name", "page"]), st.text(max_size=10)),
)
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "get"])
contents = st.one_of(st.none(), st.just(b""), st.binary(min_size=1, max_size=30))


def _reference(
    base: str,
    method: str,
    path: str,
    params: Any,
    content: bytes | None,
    defaults: list[tuple[str, str]],
) -> httpx.Request | type[Exception]:
    """httpx's own request, or the type of what it raised building it."""
    try:
        return httpx.Request(
            method,
            base + path,
            params=params,
            content=content,
            headers=httpx.Headers([*defaults, ("Authorization", AUTHORIZATION)]),
            extensions={"timeout": TIMEOUT},
        )
    except (httpx.InvalidURL, ValueError) as exc:  # an IDNA error is a ValueError
        return type(exc)


client_defaults = st.one_of(
    st.just(BASE_HEADERS),
    st.just([*BASE_HEADERS, ("Host", "elsewhere.test")]),
    st.just([("Content-Length", "5"), *BASE_HEADERS]),
    st.just([("Transfer-Encoding", "chunked")]),
)


@settings(max_examples=1500, deadline=None)
@given(bases, methods, paths, params, contents, client_defaults)
def test_a_request_built_by_the_factory_is_the_one_httpx_builds(
    base: str,
    method: str,
    path: str,
    params: Any,
    content: bytes | None,
    defaults: list[tuple[str, str]],
) -> None:
    expected = _reference(base, method, path, params, content, defaults)
    factory = RequestFactory(base, defaults)
    headers = factory.session_headers(AUTHORIZATION)
    if not isinstance(expected, httpx.Request):
        with pytest.raises(expected):
            factory.build(method, path, headers, params=params, content=content, timeout=TIMEOUT)
        return
    built = factory.build(method, path, headers, params=params, content=content, timeout=TIMEOUT)
    assert built.method == expected.method
    assert built.url == expected.url
    assert str(built.url) == str(expected.url)
    assert built.url._uri_reference == expected.url._uri_reference
    assert built.url.raw_path == expected.url.raw_path
    assert built.headers.raw == expected.headers.raw
    assert built.content == expected.content
    assert built.extensions == expected.extensions


LONG_BASE = "https://api.test/" + " " * 30000  # 90,000 characters once quoted


@pytest.mark.parametrize(
    ("base", "path", "params"),
    [
        ("https://api.test", "/users", {"email": "\u00e9" * 11000 + "@x.com"}),  # 66,016 quoted
        ("https://api.test", "/user-groups", {"name": "g" * 65536}),
        ("https://api.test", "/users", {"email": "g" * 65535}),
        ("https://api.test", "/users/" + "a" * 65536, None),
        ("https://api.test", "/users/" + "a" * (65536 - len("https://api.test/users/")), None),
        (LONG_BASE, "/users", None),
        (LONG_BASE, "/users", {"email": "a@example.com"}),
    ],
)
def test_a_url_too_long_for_httpx_is_refused_as_httpx_refuses_it(
    base: str, path: str, params: dict[str, str] | None
) -> None:
    expected = _reference(base, "GET", path, params, None, BASE_HEADERS)
    factory = RequestFactory(base, BASE_HEADERS)
    headers = factory.session_headers(AUTHORIZATION)
    if not isinstance(expected, httpx.Request):
        with pytest.raises(expected):
            factory.build("GET", path, headers, params=params, timeout=TIMEOUT)
        return
    built = factory.build("GET", path, headers, params=params, timeout=TIMEOUT)
    assert built.url._uri_reference == expected.url._uri_reference


header_texts = st.text(
    alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=12
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Accept", "X-Trace", "authorization"]),
            st.text(alphabet=st.characters(codec="ascii", exclude_characters="\r\n\x00")),
        )
    ),
    header_texts,
)
def test_a_session_s_headers_are_the_ones_httpx_would_merge(
    base: list[tuple[str, str]], authorization: str
) -> None:
    factory = RequestFactory("https://api.test", base)
    try:
        expected = httpx.Headers([*base, ("Authorization", authorization)])
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            factory.session_headers(authorization)
        return
    assert list(factory.session_headers(authorization)) == expected._list


def test_the_adapters_own_paths_take_the_short_way() -> None:
    factory = RequestFactory("https://api.telemetrytv.com")
    for path, query in (("/users/65f1c0de", None), ("/users", {"email": "a.b+c@example.com"})):
        assert factory._url(path, query) is not None


class Recorder:
    """A MockTransport's handler that keeps what reached it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response


def _request(base: str = "https://api.test") -> httpx.Request:
    factory = RequestFactory(base, BASE_HEADERS)
    headers = factory.session_headers(AUTHORIZATION)
    return factory.build("POST", "/users", headers, content=b'{"a":1}', timeout=TIMEOUT)


@pytest.mark.parametrize("client_class", [httpx.AsyncClient, CookielessClient])
async def test_a_plain_client_s_transport_receives_the_request_and_its_timeouts(
    client_class: type[httpx.AsyncClient],
) -> None:
    recorder = Recorder(httpx.Response(201, json={"id": "u1"}))
    async with client_class(transport=httpx.MockTransport(recorder)) as client:
        response = await send(client, _request())
    assert response.status_code == 201
    assert response.json() == {"id": "u1"}
    assert response.request is recorder.requests[0]
    assert recorder.requests[0].extensions["timeout"] == TIMEOUT
    assert recorder.requests[0].content == b'{"a":1}'


async def test_a_redirect_is_returned_not_followed() -> None:
    recorder = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.test/"}))
    async with CookielessClient(transport=httpx.MockTransport(recorder)) as client:
        response = await send(client, _request())
    assert response.status_code == 302
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("status", "location"),
    [
        (302, "https://elsewhere.test/users"),
        (301, "/users/2"),
        (307, ""),
        (308, "ftp://elsewhere.test/"),
        (303, "http://h:abc/"),  # not a URL: httpx's redirect layer refuses it
        (302, "http://[::1/"),
        (302, "http://h\tx/"),
        (302, None),
        (304, "http://h:abc/"),  # not a redirect: its Location is never read
    ],
)
async def test_a_redirect_answer_is_what_client_send_makes_of_it(
    status: int, location: str | None
) -> None:
    headers = {"Location": location} if location is not None else {}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=Chunks([b"moved"]))

    async def outcome(short: bool) -> tuple[Any, ...]:
        async with CookielessClient(transport=httpx.MockTransport(handler)) as client:
            request = _request()
            try:
                response = await (send(client, request) if short else client.send(request))
            except httpx.HTTPError as exc:
                return type(exc), str(exc), exc.request is request
            following = response.next_request
            return (
                response.status_code,
                response.content,
                response.is_closed,
                following and (following.method, str(following.url), following.headers.raw),
            )

    assert await outcome(short=True) == await outcome(short=False)


async def test_a_redirect_to_no_url_is_a_failed_exchange_for_the_adapter() -> None:
    # httpx's redirect layer refuses a Location that is not a URL even when it does not
    # follow it; the adapter has always reported that as a connection failure.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://h:abc/"})

    http = CookielessClient(transport=httpx.MockTransport(handler))
    tv = TelemetryTV(http, base_url="https://api.test")
    try:
        with pytest.raises(ConnectionFailed):
            await tv.session("tok").get_user("65a1f0c2e4b0a1b2c3d4e5f6")
    finally:
        await tv.aclose()


async def test_cookies_an_upstream_sets_are_not_kept() -> None:
    recorder = Recorder(httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}))
    async with CookielessClient(transport=httpx.MockTransport(recorder)) as client:
        await send(client, _request())
        assert not client.cookies
        await send(client, _request())
    assert "cookie" not in recorder.requests[1].headers


async def test_a_client_with_event_hooks_still_runs_them() -> None:
    seen: list[int] = []

    async def on_response(response: httpx.Response) -> None:
        seen.append(response.status_code)

    recorder = Recorder(httpx.Response(200, json={}))
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(recorder), event_hooks={"response": [on_response]}
    )
    async with client:
        await send(client, _request())
    assert seen == [200]


async def test_a_client_that_follows_redirects_still_follows_them() -> None:
    answers = iter([httpx.Response(302, headers={"Location": "/users/1"}), httpx.Response(200)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
    async with client:
        factory = RequestFactory("https://api.test", BASE_HEADERS)
        request = factory.build(
            "GET", "/users", factory.session_headers(AUTHORIZATION), timeout=TIMEOUT
        )
        response = await send(client, request)
    assert response.status_code == 200


async def test_a_closed_client_refuses_as_httpx_does() -> None:
    client = CookielessClient(transport=httpx.MockTransport(Recorder(httpx.Response(200))))
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await send(client, _request())


async def test_a_transport_failure_carries_its_request() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with CookielessClient(transport=httpx.MockTransport(refuse)) as client:
        request = _request()
        with pytest.raises(httpx.ConnectError) as caught:
            await send(client, request)
    assert caught.value.request is request


class Chunks(httpx.AsyncByteStream):
    """A transport's body stream: its chunks, then closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def _answer(chunks: list[bytes], headers: list[tuple[str, str]], pre_read: bool) -> Any:
    stream = Chunks(chunks)
    if pre_read:
        response = httpx.Response(200, headers=headers, content=b"".join(chunks))
    else:
        response = httpx.Response(200, headers=headers, stream=stream)
    response.request = httpx.Request("GET", "https://api.test/users")
    inner = response.stream
    assert isinstance(inner, httpx.AsyncByteStream)
    response.stream = BoundAsyncStream(inner, response=response, start=0.0)
    return response, inner, stream


def _state(response: httpx.Response, stream: Chunks) -> tuple[Any, ...]:
    try:
        elapsed: Any = response.elapsed
    except RuntimeError:
        elapsed = None
    return (
        response.content,
        response.is_closed,
        response.is_stream_consumed,
        response.num_bytes_downloaded,
        stream.closed,
        elapsed is not None,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=20), max_size=4),
    st.lists(
        st.tuples(
            st.sampled_from(["Content-Type", "content-encoding", "Content-Encoding", "X-A"]),
            st.sampled_from(["application/json", "identity", ""]),
        ),
        max_size=3,
    ),
    st.booleans(),
)
async def test_reading_an_answer_leaves_it_as_aread_does(
    chunks: list[bytes], headers: list[tuple[str, str]], pre_read: bool
) -> None:
    fast, fast_inner, fast_stream = _answer(chunks, headers, pre_read)
    await read(fast, fast_inner)
    slow, _, slow_stream = _answer(chunks, headers, pre_read)
    await slow.aread()
    assert _state(fast, fast_stream) == _state(slow, slow_stream)


async def test_a_compressed_answer_is_decoded() -> None:
    body = gzip.compress(b'{"id":"u1"}')
    recorder = Recorder(
        httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Chunks([body]))
    )
    async with CookielessClient(transport=httpx.MockTransport(recorder)) as client:
        response = await send(client, _request())
    assert response.json() == {"id": "u1"}


@pytest.fixture
async def http_server() -> Any:
    """A keep-alive HTTP/1.1 server answering each request with a JSON body, gzipped on
    request paths under /gz and chunked under /chunked; yields its base URL."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                sent = await reader.readexactly(length)
                body = b'{"path":"%s","got":%d}' % (path, len(sent))
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("kind", list(TransportKind))
async def test_answers_over_a_real_connection_are_read_whole_and_the_connection_reused(
    kind: TransportKind, http_server: str
) -> None:
    # One pooled connection with a short pool timeout: an answer whose connection
    # was not given back would leave the next request waiting for it.
    http = build_http_client(transport=kind, pool_size=1, connect_timeout=2.0, read_timeout=2.0)
    factory = RequestFactory(http_server, [("Accept", "application/json")])
    headers = factory.session_headers("Bearer t")
    timeout = http.timeout.as_dict()
    async with http:
        for path in ("/users/1", "/gz/users/2", "/chunked/users/3", "/users/4") * 2:
            request = factory.build("POST", path, headers, content=b'{"a":1}', timeout=timeout)
            response = await send(http, request)
            assert response.status_code == 200
            assert response.json() == {"path": path, "got": 7}
            assert response.is_closed


async def test_a_value_too_long_for_a_url_is_refused_as_an_invalid_request() -> None:
    # A conflict's lookup by a very long email or group name would put it in a query
    # past httpx's URL limit: a clear refusal (400 for the client), not an unmapped
    # InvalidURL and a 500, and nothing sent.
    recorder = Recorder(httpx.Response(200, json=[]))
    http = CookielessClient(transport=httpx.MockTransport(recorder))
    tv = TelemetryTV(http, base_url="https://api.test")
    try:
        with pytest.raises(InvalidRequest, match="too long"):
            await tv.session("tok").find_user_by_email("a" * 70_000 + "@example.com")
    finally:
        await tv.aclose()
    assert recorder.requests == []
