"""``session_of`` and the facts a session reports right after ``login()`` (#15 items 5 and 7)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client
from werkzeug.wrappers import Request as WSGIRequest
from werkzeug.wrappers import Response as WSGIResponse

from sessionware import (
    MemoryBackend,
    Session,
    SessionManager,
    SessionMiddleware,
    WSGISessionMiddleware,
    session_of,
)

from ..conftest import SECRET


async def login(request: Request) -> JSONResponse:
    session = session_of(request)
    before = session.handle
    session.login("alice")
    return JSONResponse({"before": before, "after": session.handle, "user": session.user_id})


async def regenerate(request: Request) -> JSONResponse:
    session = session_of(request)
    before = session.handle
    session["x"] = 1
    session.regenerate()
    return JSONResponse({"before": before, "after": session.handle})


async def whoami(request: Request) -> JSONResponse:
    session = session_of(request)
    return JSONResponse({"handle": session.handle, "user": session.user_id})


def starlette_app(backend: MemoryBackend) -> Starlette:
    app = Starlette(
        routes=[Route("/login", login), Route("/regenerate", regenerate), Route("/me", whoami)]
    )
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET], backend=backend)
    return app


def test_handle_after_login_is_the_new_sessions_handle() -> None:
    """Fresh and repeated logins report, in the same request, the handle that gets stored."""
    backend = MemoryBackend()
    manager = SessionManager(backend)
    with TestClient(starlette_app(backend), base_url="https://testserver") as client:
        first = client.get("/login").json()
        assert first["before"] is None and first["user"] == "alice"
        assert [s.handle for s in manager.list_sessions("alice")] == [first["after"]]
        assert client.get("/me").json() == {"handle": first["after"], "user": "alice"}
        again = client.get("/login").json()
        assert again["before"] == first["after"] and again["after"] != first["after"]
        assert [s.handle for s in manager.list_sessions("alice")] == [again["after"]]


def test_handle_after_regenerate_of_a_fresh_session_is_the_stored_one() -> None:
    """``regenerate()`` on a session not stored yet names the record it creates."""
    backend = MemoryBackend()
    with TestClient(starlette_app(backend), base_url="https://testserver") as client:
        made = client.get("/regenerate").json()
        assert made["before"] is None and made["after"] is not None
        assert client.get("/me").json()["handle"] == made["after"]
        kept = client.get("/regenerate").json()
        assert kept["before"] == kept["after"] == made["after"]


def test_is_new_keeps_its_meaning_after_login() -> None:
    """``is_new`` still means "no stored session backed this request" after ``login()``."""
    session = Session()
    session.login("bob")
    assert session.is_new and session.handle is not None and session.user_id == "bob"


def test_session_of_reaches_the_wsgi_session_from_request_or_environ() -> None:
    """A werkzeug request object and the raw environ give the same typed session."""
    seen: list[bool] = []

    def app(environ: dict[str, object], start_response: object) -> object:
        request = WSGIRequest(environ)  # type: ignore[arg-type]
        seen.append(session_of(request) is session_of(environ))
        session_of(environ)["n"] = 1
        return WSGIResponse("ok")(environ, start_response)  # type: ignore[arg-type]

    client = Client(WSGISessionMiddleware(app, secret_keys=[SECRET]))
    assert client.get("https://localhost/").status_code == 200
    assert seen == [True]


def test_session_of_without_the_middleware_says_how_to_fix_it() -> None:
    """Without sessionware in front, a LookupError names the middleware to add."""
    with pytest.raises(LookupError, match=r"add sessionware\.SessionMiddleware"):
        session_of({"type": "http"})
