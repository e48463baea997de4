"""Lazy loading (#16): a request that never touches the session costs no store call.

WSGI (and Flask) always load on first access; ASGI does under ``load="lazy"``,
where the session is read by ``await sessionware.load_session(request)`` or a
FastAPI dependency.  Every test counts calls on a real backend through the
real adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from sessionware import (
    ConfigError,
    Event,
    MemoryBackend,
    Session,
    SessionMiddleware,
    WSGISessionMiddleware,
    load_session,
)
from sessionware.integrations.fastapi import SessionDep, UserDep
from sessionware.integrations.flask import Sessionware
from sessionware.testing import CountingBackend, FakeClock
from sessionware.wsgi import ENVIRON_KEY

from ..conftest import SECRET

BASE = "https://testserver"


@pytest.fixture
def counting() -> CountingBackend:
    return CountingBackend(MemoryBackend())


# -- WSGI ---------------------------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    session = environ[ENVIRON_KEY]
    path = environ["PATH_INFO"]
    body = "ok"
    if path == "/count":
        session["n"] = session.get("n", 0) + 1
        body = str(session["n"])
    elif path == "/twice":
        body = f"{session.get('n')} {session.get('n')} {len(session)}"
    elif path == "/login":
        session.login("ada")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


def wsgi_client(backend: Any, **kwargs: Any) -> Client:
    return Client(WSGISessionMiddleware(wsgi_app, secret_keys=[SECRET], backend=backend, **kwargs))


def test_wsgi_untouched_request_with_a_cookie_makes_no_store_call(
    counting: CountingBackend,
) -> None:
    """A WSGI request carrying a live cookie that never reads the session: zero calls."""
    client = wsgi_client(counting)
    client.get("/count", base_url="https://localhost")
    counting.calls.clear()
    response = client.get("/", base_url="https://localhost")
    assert counting.total == 0
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers  # the response does not depend on the session


def test_wsgi_first_access_loads_once_and_writes_persist(counting: CountingBackend) -> None:
    """The first read loads (once, however often the app reads); writes commit as before."""
    client = wsgi_client(counting)
    client.get("/count", base_url="https://localhost")
    counting.calls.clear()
    assert client.get("/twice", base_url="https://localhost").text == "1 1 1"
    assert dict(counting.calls) == {"load": 1}
    assert client.get("/count", base_url="https://localhost").text == "2"


def test_wsgi_lazy_load_still_reports_expiry(counting: CountingBackend) -> None:
    """A session gone from the store is found on first access: anonymous, with its event then."""
    events: list[Event] = []
    clock = FakeClock()
    client = wsgi_client(counting, clock=clock, on_event=events.append)
    client.get("/count", base_url="https://localhost")
    clock.advance(3 * 86400)
    assert events[-1].kind == "created"
    client.get("/", base_url="https://localhost")
    assert events[-1].kind == "created"  # untouched: nothing read, nothing decided
    assert client.get("/count", base_url="https://localhost").text == "1"
    assert [e.kind for e in events][-2:] == ["unknown_id", "created"]


def test_wsgi_cross_site_post_on_a_live_session_is_still_refused(
    counting: CountingBackend,
) -> None:
    """Unsafe methods load eagerly, because the CSRF decision needs to know the session is live."""
    client = wsgi_client(counting)
    client.get("/count", base_url="https://localhost")
    response = client.post(
        "/count", base_url="https://localhost", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


def make_flask(backend: Any) -> flask.Flask:
    app = flask.Flask("lazy")
    app.config["SECRET_KEY"] = SECRET

    @app.get("/")
    def untouched() -> str:
        return "static-ish"

    @app.get("/who")
    def who() -> dict[str, Any]:
        return {"user": flask.session.user_id, "n": flask.session.get("n")}  # type: ignore[attr-defined]

    @app.post("/login")
    def login() -> str:
        flask.session.login("grace")  # type: ignore[attr-defined]
        flask.session["n"] = 1
        return "ok"

    Sessionware(app, backend=backend)
    return app


def test_flask_untouched_request_makes_no_store_call(counting: CountingBackend) -> None:
    """A Flask view not using ``flask.session`` makes no store call; one using it loads once."""
    client = make_flask(counting).test_client()
    client.post("/login")
    counting.calls.clear()
    assert client.get("/").text == "static-ish"
    assert counting.total == 0
    assert client.get("/who").json == {"user": "grace", "n": 1}
    assert dict(counting.calls) == {"load": 1}


# -- ASGI -------------------------------------------------------------------------------


async def write(request: Request) -> Response:
    session = await load_session(request)
    session["n"] = session.get("n", 0) + 1
    return PlainTextResponse(str(session["n"]))


async def untouched(request: Request) -> Response:
    return PlainTextResponse("hello")


async def careless(request: Request) -> Response:
    try:
        request.session.get("n")
    except RuntimeError as exc:
        return PlainTextResponse(str(exc), status_code=418)
    return PlainTextResponse("read")


async def wrong_then_right(request: Request) -> Response:
    with pytest.raises(RuntimeError):
        request.session.get("n")
    session = await load_session(request)
    return JSONResponse({"n": session.get("n"), "same": session is request.session})


def starlette_client(backend: Any, load: Any = "lazy") -> TestClient:
    routes = [
        Route("/write", write, methods=["GET", "POST"]),
        Route("/", untouched),
        Route("/careless", careless),
        Route("/both", wrong_then_right),
    ]
    app = SessionMiddleware(
        Starlette(routes=routes), secret_keys=[SECRET], backend=backend, load=load
    )
    return TestClient(app, base_url=BASE)


def test_asgi_lazy_untouched_request_makes_no_store_call(counting: CountingBackend) -> None:
    """Under load="lazy" a request with a live cookie that never loads the session: zero calls."""
    client = starlette_client(counting)
    assert client.get("/write").text == "1"
    counting.calls.clear()
    response = client.get("/")
    assert counting.total == 0
    assert "vary" not in response.headers
    assert "set-cookie" not in response.headers


def test_asgi_lazy_load_session_reads_once_and_writes_persist(counting: CountingBackend) -> None:
    """``await load_session(request)`` reads the store once and the session then works as usual."""
    client = starlette_client(counting)
    client.get("/write")
    counting.calls.clear()
    assert client.get("/write").text == "2"
    assert counting.calls["load"] == 1
    assert client.get("/both").json() == {"n": 2, "same": True}


def test_asgi_lazy_session_touched_before_loading_names_the_fix(
    counting: CountingBackend,
) -> None:
    """Reading a lazy session before loading it raises, naming load_session and the dependencies."""
    client = starlette_client(counting)
    client.get("/write")
    response = client.get("/careless")
    assert response.status_code == 418
    assert "sessionware.load_session(request)" in response.text
    assert "sessionware.integrations.fastapi" in response.text


def test_asgi_eager_is_the_default_and_load_session_works_there(
    counting: CountingBackend,
) -> None:
    """Eager is the default (Starlette's contract); load_session returns the session there too."""
    client = starlette_client(counting, load="eager")
    client.get("/write")
    counting.calls.clear()
    client.get("/")
    assert counting.calls["load"] == 1
    assert client.get("/careless").text == "read"
    assert client.get("/write").text == "2"


def test_asgi_load_must_be_eager_or_lazy() -> None:
    """Any other value of load= is a configuration error at construction."""
    with pytest.raises(ConfigError):
        SessionMiddleware(Starlette(), secret_keys=[SECRET], load="sometimes")  # type: ignore[arg-type]


def fastapi_client(backend: Any) -> TestClient:
    api = FastAPI()

    @api.post("/login")
    async def login(session: SessionDep) -> str:
        session.login("ada")
        return "ok"

    @api.get("/me")
    async def me(user_id: UserDep) -> str:
        return user_id

    @api.get("/ping")
    async def ping() -> str:
        return "pong"

    api.add_middleware(SessionMiddleware, secret_keys=[SECRET], backend=backend, load="lazy")
    return TestClient(api, base_url=BASE)


def test_fastapi_dependencies_load_a_lazy_session(counting: CountingBackend) -> None:
    """SessionDep and UserDep load the session; a route depending on neither costs no store call."""
    client = fastapi_client(counting)
    assert client.post("/login").status_code == 200
    counting.calls.clear()
    assert client.get("/ping").json() == "pong"
    assert counting.total == 0
    assert client.get("/me").json() == "ada"
    assert dict(counting.calls) == {"load": 1}


def test_lazy_session_is_a_session() -> None:
    """What load_session returns is a sessionware Session (type checkers and isinstance agree)."""
    client = starlette_client(MemoryBackend())
    client.get("/write")
    assert client.get("/both").json()["same"] is True
    assert issubclass(type(Session()), dict)


def test_asgi_lazy_websocket_loads_a_read_only_session(counting: CountingBackend) -> None:
    """A websocket under load="lazy" (CSRF off) reads its session on demand, read-only."""
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        session = await load_session(websocket)
        try:
            session["n"] = 0
        except TypeError:
            await websocket.send_json({"n": session.get("n"), "read_only": True})
        await websocket.close()

    app = SessionMiddleware(
        Starlette(routes=[Route("/write", write), WebSocketRoute("/ws", feed)]),
        secret_keys=[SECRET],
        backend=counting,
        load="lazy",
        csrf=False,
    )
    client = TestClient(app, base_url=BASE)
    client.get("/write")
    counting.calls.clear()
    # TestClient builds ws:// URLs, for which cookie jars withhold Secure cookies: send it by hand.
    cookie = f"__Host-session={client.cookies['__Host-session']}"
    with client.websocket_connect("/ws", headers={"cookie": cookie}) as ws:
        assert ws.receive_json() == {"n": 1, "read_only": True}
    assert dict(counting.calls) == {"load": 1}
