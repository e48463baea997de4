"""Starlette drop-in: the same app runs on Starlette's middleware and on ours.

The behaviour tests are parametrized over both implementations, so they
state what an app sees when only the import changes; the attribute tests
then pin down where ours is deliberately stricter.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from sessionware import ConfigError, MemoryBackend, SessionMiddleware
from sessionware.testing import FakeClock

from .conftest import SECRET, attributes, cookie_named, set_cookies

IMPLEMENTATIONS = [
    pytest.param(StarletteSessionMiddleware, id="starlette"),
    pytest.param(SessionMiddleware, id="sessionware"),
]


async def view(request: Request) -> JSONResponse:
    return JSONResponse({"session": dict(request.session)})


async def update(request: Request) -> JSONResponse:
    request.session.update(await request.json())
    return JSONResponse({"session": dict(request.session)})


async def clear(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({"session": dict(request.session)})


async def untouched(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def ws_read(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"session": dict(websocket.session)})
    await websocket.close()


async def ws_write(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        websocket.session["x"] = 1
    except TypeError as exc:
        await websocket.send_json({"error": str(exc)})
    await websocket.close()


ROUTES = [
    Route("/view", view),
    Route("/update", update, methods=["POST"]),
    Route("/clear", clear, methods=["POST"]),
    Route("/untouched", untouched),
    WebSocketRoute("/ws", ws_read),
    WebSocketRoute("/ws-write", ws_write),
]


def make_client(middleware: type, **kwargs: Any) -> TestClient:
    app = Starlette(routes=ROUTES, middleware=[Middleware(middleware, **kwargs)])
    return TestClient(app, base_url="https://testserver")


def the_cookie(client: TestClient) -> tuple[str, str]:
    (name, value), *_ = client.cookies.items()
    return name, value


@pytest.mark.parametrize("middleware", IMPLEMENTATIONS)
def test_session_data_roundtrip(middleware: type) -> None:
    """Data written by one request is read back by the next."""
    client = make_client(middleware, secret_key=SECRET)
    assert client.get("/view").json() == {"session": {}}
    client.post("/update", json={"some": "data", "n": [1, 2]})
    assert client.get("/view").json() == {"session": {"some": "data", "n": [1, 2]}}


@pytest.mark.parametrize("middleware", IMPLEMENTATIONS)
def test_clear_ends_the_session(middleware: type) -> None:
    """``clear()`` empties the session and the browser drops the cookie."""
    client = make_client(middleware, secret_key=SECRET)
    client.post("/update", json={"some": "data"})
    response = client.post("/clear")
    assert response.json() == {"session": {}}
    assert set_cookies(response), "clearing must expire the cookie"
    assert not client.cookies
    assert client.get("/view").json() == {"session": {}}


@pytest.mark.parametrize("middleware", IMPLEMENTATIONS)
def test_empty_session_sets_no_cookie(middleware: type) -> None:
    """Untouched, read-only and emptied-by-update sessions send no Set-Cookie."""
    client = make_client(middleware, secret_key=SECRET)
    assert set_cookies(client.get("/untouched")) == []
    assert set_cookies(client.get("/view")) == []
    assert set_cookies(client.post("/update", json={})) == []


@pytest.mark.parametrize("middleware", IMPLEMENTATIONS)
def test_websocket_reads_the_session(middleware: type) -> None:
    """A websocket sees the session of the cookie it was opened with."""
    client = make_client(middleware, secret_key=SECRET)
    client.post("/update", json={"user": "ada"})
    name, value = the_cookie(client)
    with client.websocket_connect("/ws", headers={"cookie": f"{name}={value}"}) as ws:
        assert ws.receive_json() == {"session": {"user": "ada"}}


def test_websocket_session_is_read_only() -> None:
    """Writing to the session from a websocket fails loudly instead of being lost."""
    client = make_client(SessionMiddleware, secret_key=SECRET)
    with client.websocket_connect("/ws-write") as ws:
        assert "read-only" in ws.receive_json()["error"]


def test_only_the_import_changes_with_add_middleware() -> None:
    """``add_middleware(SessionMiddleware, secret_key=...)`` takes Starlette's keywords."""
    app = Starlette(routes=ROUTES)
    app.add_middleware(SessionMiddleware, secret_key=SECRET, max_age=3600, same_site="strict")
    client = TestClient(app, base_url="https://testserver")
    response = client.post("/update", json={"a": 1})
    assert cookie_named(response, "session") is not None
    assert client.get("/view").json() == {"session": {"a": 1}}


def test_profile_cookie_over_https_is_secure_and_persistent() -> None:
    """Over HTTPS the profile's cookie is Secure, HttpOnly, Lax and lives Starlette's 14 days."""
    client = make_client(SessionMiddleware, secret_key=SECRET)
    header = cookie_named(client.post("/update", json={"a": 1}), "session")
    assert header is not None
    attrs = attributes(header)
    assert "secure" in attrs and "httponly" in attrs
    assert attrs["samesite"] == "Lax" and attrs["path"] == "/"
    assert attrs["max-age"] == str(14 * 86400) and "domain" not in attrs


def test_https_only_true_keeps_secure_over_plain_http() -> None:
    """``https_only=True`` sends Secure whatever the scheme (the client then withholds it)."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SessionMiddleware, secret_key=SECRET, https_only=True)],
    )
    header = cookie_named(TestClient(app).post("/update", json={"a": 1}), "session")
    assert header is not None and "secure" in attributes(header)


def test_path_attribute_is_honoured() -> None:
    """``path`` narrows the cookie."""
    client = make_client(SessionMiddleware, secret_key=SECRET, path="/update")
    response = client.post("/update", json={"a": 1})
    header = cookie_named(response, "session")
    assert header is not None
    assert attributes(header)["path"] == "/update"


def test_domain_attribute_is_honoured() -> None:
    """``domain`` is sent as Domain."""
    client = make_client(SessionMiddleware, secret_key=SECRET, domain="example.com")
    header = cookie_named(client.post("/update", json={"a": 1}), "session")
    assert header is not None
    assert attributes(header)["domain"] == "example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("lax", "Lax"), ("strict", "Strict"), ("Lax", "Lax"), ("STRICT", "Strict")],
)
def test_same_site_attribute_is_honoured(value: str, expected: str) -> None:
    """``same_site`` in any case is always emitted explicitly (CK-03)."""
    client = make_client(SessionMiddleware, secret_key=SECRET, same_site=value)
    header = cookie_named(client.post("/update", json={"a": 1}), "session")
    assert header is not None and attributes(header)["samesite"] == expected


def test_session_cookie_names_the_cookie() -> None:
    """``session_cookie`` becomes ``cookie_name``."""
    client = make_client(
        SessionMiddleware, secret_key=SECRET, session_cookie="__Host-app", https_only=True
    )
    assert cookie_named(client.post("/update", json={"a": 1}), "__Host-app") is not None


def test_max_age_bounds_the_time_between_requests() -> None:
    """``max_age`` is the server-side idle limit; activity keeps the session, as in Starlette."""
    clock = FakeClock()
    backend = MemoryBackend()
    client = make_client(
        SessionMiddleware, secret_key=SECRET, max_age=600, clock=clock, backend=backend
    )
    client.post("/update", json={"a": 1})
    for _ in range(10):
        clock.advance(180)
        assert client.get("/view").json() == {"session": {"a": 1}}
    clock.advance(601)
    assert client.get("/view").json() == {"session": {}}


def test_max_age_shorter_than_idle_shortens_idle() -> None:
    """A ``max_age`` under the 30-minute idle limit also caps idleness."""
    clock = FakeClock()
    client = make_client(SessionMiddleware, secret_key=SECRET, max_age=40, clock=clock)
    client.post("/update", json={"a": 1})
    clock.advance(41)
    assert client.get("/view").json() == {"session": {}}


def test_secret_objects_are_accepted() -> None:
    """``starlette.datastructures.Secret`` works as the secret, as in Starlette."""
    client = make_client(SessionMiddleware, secret_key=Secret(SECRET))
    client.post("/update", json={"a": 1})
    assert client.get("/view").json() == {"session": {"a": 1}}


def test_short_secret_is_refused_with_a_hint() -> None:
    """A Starlette-style short secret is a ConfigError naming the fix, not a weak default."""
    with pytest.raises(ConfigError, match="keygen"):
        SessionMiddleware(Starlette(), secret_key="not-a-real-secret")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"secret_key": SECRET, "secret_keys": [SECRET]}, id="secret"),
        pytest.param({"secret_key": SECRET, "https_only": True, "secure": True}, id="secure"),
        pytest.param(
            {"secret_key": SECRET, "session_cookie": "a", "cookie_name": "b"}, id="cookie"
        ),
        pytest.param({"secret_key": SECRET, "max_age": 60, "idle_timeout": 60}, id="age"),
    ],
)
def test_one_setting_under_two_names_is_refused(kwargs: dict[str, Any]) -> None:
    """Starlette's and our name for the same setting together are ambiguous."""
    with pytest.raises(ConfigError, match="same setting"):
        SessionMiddleware(Starlette(), **kwargs)


@pytest.mark.parametrize("max_age", ["600", True])
def test_bad_max_age_is_refused(max_age: Any) -> None:
    """``max_age`` must be a number of seconds (or None)."""
    with pytest.raises(ConfigError, match="max_age"):
        SessionMiddleware(Starlette(), secret_key=SECRET, max_age=max_age)


def test_partitioned_cookies_need_https_only() -> None:
    """``partitioned=True`` needs Secure; with ``https_only=True`` the cookie is Partitioned."""
    with pytest.raises(ConfigError, match="partitioned"):
        SessionMiddleware(Starlette(), secret_key=SECRET, partitioned=True)
    client = make_client(SessionMiddleware, secret_key=SECRET, partitioned=True, https_only=True)
    header = cookie_named(client.post("/update", json={"a": 1}), "session")
    assert header is not None and "partitioned" in attributes(header)


def test_max_age_none_gives_a_browser_session_cookie() -> None:
    """``max_age=None`` (Starlette: browser-session cookie) sends no Max-Age."""
    client = make_client(SessionMiddleware, secret_key=SECRET, max_age=None)
    header = cookie_named(client.post("/update", json={"a": 1}), "session")
    assert header is not None and "max-age" not in attributes(header)


def test_long_max_age_extends_remember_me_limit() -> None:
    """A ``max_age`` beyond 90 days is the idle limit; the remember-me ceiling follows."""
    middleware = SessionMiddleware(Starlette(), secret_key=SECRET, max_age=120 * 86400)
    assert middleware.config.idle_s == 120 * 86400
    assert middleware.config.remember_absolute_s >= 120 * 86400
