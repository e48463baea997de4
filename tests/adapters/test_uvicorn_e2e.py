"""End to end: uvicorn on a loopback port, httpx over real HTTP, a Starlette app with sessions.

Plain http, so the cookie is non-prefixed and ``secure=False`` (the documented
dev mode, CK-09): clients withhold Secure cookies over http.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend

from ..conftest import SECRET
from .uvicorn_support import serving


async def login(request: Request) -> Response:
    request.session.login(request.query_params["user"])
    return PlainTextResponse("ok")


async def count(request: Request) -> Response:
    request.session["n"] = request.session.get("n", 0) + 1
    return PlainTextResponse(f"{request.session.user_id}:{request.session['n']}")


async def logout(request: Request) -> Response:
    request.session.logout()
    return PlainTextResponse("bye")


async def whoami(request: Request) -> Response:
    return PlainTextResponse(str(request.session.user_id))


@pytest.fixture
def backend_e2e() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def server(backend_e2e: MemoryBackend) -> Iterator[str]:
    """A uvicorn server in a thread on 127.0.0.1 and a free port; yields its base URL."""
    app = Starlette(
        routes=[
            Route("/login", login),
            Route("/count", count),
            Route("/logout", logout),
            Route("/whoami", whoami),
        ]
    )
    app.add_middleware(
        SessionMiddleware,
        secret_keys=[SECRET],
        cookie_name="sid_e2e",
        secure=False,
        backend=backend_e2e,
    )
    with serving(app) as url:
        yield url


def test_login_count_logout_and_replay_over_real_http(
    server: str, backend_e2e: MemoryBackend
) -> None:
    """A real client logs in, counts, logs out; replaying the old cookie is anonymous."""
    with httpx.Client(base_url=server) as client:
        assert client.get("/whoami").text == "None"
        assert "set-cookie" not in client.get("/whoami").headers
        login = client.get("/login", params={"user": "alice"})
        assert login.status_code == 200 and "sid_e2e=" in login.headers["set-cookie"]
        assert [client.get("/count").text for _ in range(3)] == ["alice:1", "alice:2", "alice:3"]
        stolen = client.cookies["sid_e2e"]
        assert len(backend_e2e) == 1
        bye = client.get("/logout")
        assert "Max-Age=0" in bye.headers["set-cookie"]
        assert bye.headers["cache-control"] == "no-store"
        assert len(backend_e2e) == 0
        assert client.get("/whoami").text == "None"
    with httpx.Client(base_url=server, cookies={"sid_e2e": stolen}) as replay:
        response = replay.get("/whoami")
        assert response.text == "None"
        assert "Max-Age=0" in response.headers["set-cookie"]


def test_url_id_is_rejected_over_real_http(server: str) -> None:
    """A ;jsessionid= path parameter is answered 400 by the real server stack."""
    with httpx.Client(base_url=server) as client:
        assert client.get("/whoami;JSESSIONID=kR3v9xQe0YwT2bN7mLp4sHz8").status_code == 400
        assert client.get("/whoami", params={"sid": "kR3v9xQe0YwT2bN7mLp4sHz8"}).status_code == 400
