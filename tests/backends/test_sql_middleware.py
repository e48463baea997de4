"""SQLBackend behind the real middlewares: restarts, stored keys, and a database that is down."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client

from sessionware import SessionManager, SessionMiddleware, WSGISessionMiddleware
from sessionware.backends.sql import SQLBackend

SECRET = "x" * 48
OPTIONS: dict[str, Any] = {"secret_keys": [SECRET], "cookie_name": "session", "secure": False}


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """/set stores a cart; any other path shows the session as JSON."""
    session = environ["sessionware.session"]
    if environ["PATH_INFO"] == "/set":
        session["cart"] = [1, 2, 3]
    body = json.dumps(dict(session)).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def cookie_of(set_cookie: str) -> str:
    morsel = SimpleCookie(set_cookie)["session"]
    return morsel.value


def test_wsgi_session_survives_an_app_restart(tmp_path: Path) -> None:
    """A session written through one middleware is read by a brand-new one on the same file."""
    url = f"sqlite:///{tmp_path}/app.db"
    first = SQLBackend(url)
    response = Client(WSGISessionMiddleware(wsgi_app, backend=first, **OPTIONS)).get("/set")
    value = cookie_of(response.headers["Set-Cookie"])
    first.close()

    second = SQLBackend(url)
    restarted = Client(
        WSGISessionMiddleware(wsgi_app, backend=second, **OPTIONS), use_cookies=False
    )
    response = restarted.get("/", headers={"Cookie": f"session={value}"})
    assert response.status_code == 200
    assert response.get_json() == {"cart": [1, 2, 3]}
    second.close()


def test_database_file_holds_no_usable_session_id(tmp_path: Path) -> None:
    """Neither the cookie nor the raw ID inside it appears anywhere in the SQLite files (ID-06)."""
    backend = SQLBackend(f"sqlite:///{tmp_path}/app.db")
    response = Client(WSGISessionMiddleware(wsgi_app, backend=backend, **OPTIONS)).get("/set")
    value = cookie_of(response.headers["Set-Cookie"])
    raw_id = value.split(".", 1)[0]
    backend.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("app.db*"))
    assert b"[1,2,3]" in stored  # the data is there...
    assert raw_id.encode() not in stored  # ...but not the ID


async def show(request: Request) -> JSONResponse:
    session = request.session
    if request.url.path == "/login":
        session.login("alice")
        session["theme"] = "dark"
    return JSONResponse({"user": session.user_id, "data": dict(session)})


async def test_asgi_login_survives_an_app_restart(tmp_path: Path) -> None:
    """A login made through the ASGI middleware is still logged in after a restart."""
    url = f"sqlite:///{tmp_path}/app.db"
    routes = [Route("/login", show), Route("/", show)]
    first = SQLBackend(url)
    app = SessionMiddleware(Starlette(routes=routes), backend=first, **OPTIONS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/login")
    value = cookie_of(response.headers["set-cookie"])
    await first.aclose()
    first.close()

    second = SQLBackend(url)
    app = SessionMiddleware(Starlette(routes=routes), backend=second, **OPTIONS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/", headers={"Cookie": f"session={value}"})
    assert response.json() == {"user": "alice", "data": {"theme": "dark"}}
    assert [info.user_id for info in await SessionManager(second).alist_sessions("alice")] == [
        "alice"
    ]
    await second.aclose()
    second.close()


def test_database_down_means_503_for_writes_and_anonymous_reads() -> None:
    """With PostgreSQL unreachable a write answers 503 and a read is anonymous, no traceback."""
    backend = SQLBackend("postgresql+psycopg://postgres@127.0.0.1:1/test", connect_timeout=1)
    client = Client(WSGISessionMiddleware(wsgi_app, backend=backend, **OPTIONS), use_cookies=False)
    assert client.get("/set").status_code == 503
    # A validly signed cookie (minted against a working store) makes the read reach the backend.
    good = SQLBackend("sqlite://")
    value = cookie_of(
        Client(WSGISessionMiddleware(wsgi_app, backend=good, **OPTIONS))
        .get("/set")
        .headers["Set-Cookie"]
    )
    response = client.get("/", headers={"Cookie": f"session={value}"})
    assert response.status_code == 200 and response.get_json() == {}
    backend.close()
    good.close()
