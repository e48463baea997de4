"""SessionMiddleware through Starlette's TestClient (https, so Secure cookies come back)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from sessionware import ConfigError, SessionConfig, SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.testing import CountingBackend, FakeClock

from ..conftest import SECRET
from .conftest import FlakyBackend, cookie_attrs

BASE = "https://testserver"


async def nothing(request: Request) -> Response:
    return PlainTextResponse("hello")


async def count(request: Request) -> Response:
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return PlainTextResponse(str(n))


async def peek(request: Request) -> Response:
    return PlainTextResponse(repr(request.session.get("n")))


async def login(request: Request) -> Response:
    request.session.login(request.query_params["user"])
    return PlainTextResponse("ok")


async def logout(request: Request) -> Response:
    request.session.logout()
    return PlainTextResponse("bye")


async def boom(request: Request) -> Response:
    request.session["n"] = 99
    raise RuntimeError("app failure")


async def fail(request: Request) -> Response:
    request.session["n"] = 99
    return PlainTextResponse("failed", status_code=500)


async def cached(request: Request) -> Response:
    request.session["n"] = 1
    return PlainTextResponse("x", headers={"cache-control": "public, max-age=3600"})


async def stream(request: Request) -> Response:
    request.session["streamed"] = True

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"chunk{i};".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


async def grow(request: Request) -> Response:
    request.session.setdefault("cart", []).extend(["x" * 50] * 5)  # in place, past 200 bytes
    return PlainTextResponse("grown")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    session = websocket.session
    try:
        session["n"] = 1000
        outcome = "writable"
    except TypeError:
        outcome = "read-only"
    await websocket.send_json({"n": session.get("n"), "write": outcome})
    await websocket.close()


ROUTES = [
    Route("/", nothing),
    Route("/count", count),
    Route("/peek", peek),
    Route("/login", login),
    Route("/logout", logout),
    Route("/boom", boom),
    Route("/fail", fail),
    Route("/cached", cached),
    Route("/stream", stream),
    Route("/grow", grow),
    WebSocketRoute("/ws", ws),
]


@pytest.fixture
def counting() -> CountingBackend:
    return CountingBackend(MemoryBackend())


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., TestClient]]:
    """``make_client(backend, **config_fields)``: a TestClient on https://testserver."""
    clients: list[TestClient] = []

    def make(backend: Any, **fields: Any) -> TestClient:
        fields.setdefault("secret_keys", [SECRET])
        app = Starlette(
            routes=ROUTES,
            middleware=[Middleware(SessionMiddleware, backend=backend, clock=clock, **fields)],
        )
        client = TestClient(app, base_url=BASE, raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient], counting: CountingBackend) -> TestClient:
    return make_client(counting)


# -- costs (RS-01, RS-02) ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/peek"])
def test_request_without_cookie_costs_nothing(
    client: TestClient, counting: CountingBackend, path: str
) -> None:
    """No cookie: zero backend calls and no Set-Cookie, whether or not the app reads the session."""
    response = client.get(path)
    assert response.status_code == 200
    assert counting.total == 0
    assert "set-cookie" not in response.headers


def test_valid_cookie_untouched_session_is_one_load_no_apply(
    client: TestClient, counting: CountingBackend
) -> None:
    """A valid cookie on a handler that ignores the session: exactly one load and no write."""
    client.get("/count")
    counting.calls.clear()
    for path in ("/", "/peek"):
        response = client.get(path)
        assert "set-cookie" not in response.headers
    assert dict(counting.calls) == {"load": 2}


def test_session_round_trip_and_hardened_cookie(client: TestClient) -> None:
    """Counting works across requests and the cookie has the default hardened attributes."""
    first = client.get("/count")
    attrs = cookie_attrs(first.headers["set-cookie"])
    assert attrs["name"] == "__Host-session"
    assert {"secure", "httponly", "path", "samesite"} <= attrs.keys()
    assert attrs["path"] == "/" and attrs["samesite"] == "Lax"
    assert "domain" not in attrs and "max-age" not in attrs and "expires" not in attrs
    assert [client.get("/count").text for _ in range(3)] == ["2", "3", "4"]


# -- caching headers (CK-07) -------------------------------------------------------------------


def test_reads_vary_on_cookie(client: TestClient) -> None:
    """Responses that read the session carry Vary: Cookie; untouched cookieless ones do not."""
    assert "vary" not in client.get("/").headers
    assert "Cookie" in client.get("/peek").headers["vary"]
    client.get("/count")
    assert "Cookie" in client.get("/peek").headers["vary"]


def test_set_cookie_responses_are_not_cacheable(client: TestClient) -> None:
    """A response that sets the cookie says no-store, replacing the app's own Cache-Control."""
    response = client.get("/cached")
    assert "set-cookie" in response.headers
    assert response.headers.get_list("cache-control") == ["no-store"]
    client.get("/login?user=a")
    assert client.get("/logout").headers.get_list("cache-control") == ["no-store"]


def test_app_cache_control_is_kept_without_set_cookie(client: TestClient) -> None:
    """When no cookie is set, the app's Cache-Control passes through unchanged."""
    client.get("/cached")
    response = client.get("/cached")
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=3600"


# -- failures of the app -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/boom", "/fail"])
def test_app_error_commits_nothing(
    client: TestClient, counting: CountingBackend, path: str
) -> None:
    """An exception or a 5xx answer leaves the store and the cookie as they were."""
    client.get("/count")
    counting.calls.clear()
    response = client.get(path)
    assert response.status_code == 500
    assert "set-cookie" not in response.headers
    assert counting.calls["apply"] == 0
    assert client.get("/peek").text == "1"


def test_oversized_session_at_commit_is_a_plain_500(
    make_client: Callable[..., TestClient], counting: CountingBackend
) -> None:
    """Data grown in place past max_data_bytes is refused at commit: short 500, nothing stored."""
    client = make_client(counting, max_data_bytes=200)
    response = client.get("/grow")
    assert response.status_code == 500 and response.text.startswith("Internal error")
    assert "set-cookie" not in response.headers
    assert counting.calls["apply"] == 0


# -- protocol coverage -------------------------------------------------------------------------


def test_streaming_response_arrives_whole_with_the_cookie(client: TestClient) -> None:
    """A StreamingResponse streams through untouched and still gets its Set-Cookie."""
    response = client.get("/stream")
    assert response.text == "chunk0;chunk1;chunk2;"
    assert "set-cookie" in response.headers


def test_websocket_gets_a_read_only_session(client: TestClient, counting: CountingBackend) -> None:
    """A websocket sees the session's data but cannot change it."""
    client.get("/count")
    counting.calls.clear()
    # TestClient builds ws:// URLs, for which cookie jars withhold Secure cookies: send it by hand.
    cookie = f"__Host-session={client.cookies['__Host-session']}"
    with client.websocket_connect("/ws", headers={"cookie": cookie}) as socket:
        assert socket.receive_json() == {"n": 1, "write": "read-only"}
    assert counting.calls["apply"] == 0
    assert client.get("/peek").text == "1"


def test_websocket_with_url_id_is_closed(client: TestClient) -> None:
    """A websocket handshake carrying a URL session ID is refused."""
    from starlette.websockets import WebSocketDisconnect

    url = "/ws?sid=kR3v9xQe0YwT2bN7mLp4sHz8"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(url) as socket:
        socket.receive_json()


def test_lifespan_passes_through(counting: CountingBackend) -> None:
    """Startup and shutdown reach the app through the middleware."""
    seen: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        seen.append("startup")
        yield
        seen.append("shutdown")

    app = Starlette(routes=ROUTES, lifespan=lifespan)
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET], backend=counting)
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/count").text == "1"
    assert seen == ["startup", "shutdown"]


def test_url_id_is_answered_400(client: TestClient, counting: CountingBackend) -> None:
    """A session ID in the query string gets a short 400 before the app runs (FX-01)."""
    response = client.get("/count?JSESSIONID=kR3v9xQe0YwT2bN7mLp4sHz8")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    assert counting.total == 0


# -- backend faults (RS-05) --------------------------------------------------------------------


def test_backend_down_reads_anonymous_writes_503_then_recovers(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    """With the store down reads are anonymous, writes get a short 503, and service resumes."""
    backend = FlakyBackend()
    client = make_client(backend)
    assert client.get("/count").text == "1"
    backend.down = True
    caplog.set_level(logging.WARNING, logger="sessionware.security")
    read = client.get("/peek")
    assert read.status_code == 200 and read.text == "None"
    assert "set-cookie" not in read.headers  # the cookie is kept for when the store returns
    written = client.get("/count")
    assert written.status_code == 503
    assert written.headers["content-type"].startswith("text/plain")
    assert written.headers["retry-after"] == "2"
    assert len(written.content) < 100 and "Traceback" not in written.text
    assert any(r.getMessage().startswith("backend_down") for r in caplog.records)
    backend.down = False
    assert client.get("/peek").text == "1"
    assert client.get("/count").text == "2"


def test_new_session_write_with_backend_down_is_503(make_client: Callable[..., TestClient]) -> None:
    """Creating a session while the store is down fails cleanly and sets no cookie."""
    backend = FlakyBackend()
    backend.down = True
    response = make_client(backend).get("/count")
    assert response.status_code == 503 and "set-cookie" not in response.headers


# -- construction --------------------------------------------------------------------------------


def test_plain_starlette_app_needs_one_line(backend: MemoryBackend) -> None:
    """``app.add_middleware(SessionMiddleware, secret_keys=[...])`` is all it takes."""
    app = Starlette(routes=ROUTES)
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET])
    with TestClient(app, base_url=BASE) as client:
        client.get("/login?user=alice")
        assert [client.get("/count").text for _ in range(2)] == ["1", "2"]
        client.get("/logout")
        assert client.get("/peek").text == "None"


def test_config_object_and_backend_keyword(counting: CountingBackend) -> None:
    """``SessionMiddleware(app, config=..., backend=...)`` uses exactly that config and store."""
    config = SessionConfig(secret_keys=[SECRET], cookie_name="__Host-sw")
    app = SessionMiddleware(Starlette(routes=ROUTES), config=config, backend=counting)
    assert app.config is config and app.backend is counting
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/count").headers["set-cookie"].startswith("__Host-sw=")
    assert counting.calls["apply"] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="no-secret"),
        pytest.param({"secret_keys": ["short"]}, id="short-secret"),
        pytest.param({"secret_keys": [SECRET], "cookie_nam": "x"}, id="typo"),
        pytest.param(
            {"config": SessionConfig(secret_keys=[SECRET]), "secure": False}, id="config-and-fields"
        ),
    ],
)
def test_bad_construction_is_a_config_error(kwargs: dict[str, Any]) -> None:
    """Missing secrets, unknown fields or config plus fields fail at construction."""
    with pytest.raises(ConfigError):
        SessionMiddleware(Starlette(), **kwargs)
