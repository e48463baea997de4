"""End to end over real HTTP: uvicorn on a loopback port, httpx as the mobile client."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.tokens import TokenService, refresh_endpoint
from sessionware.tokens.keys import generate_keypair


def build_app() -> tuple[SessionMiddleware, TokenService]:
    backend = MemoryBackend()
    private, _ = generate_keypair()
    tokens = TokenService(
        backend,
        keys={"2026-01": private},
        issuer="https://api.example.test",
        audience="example-mobile",
        check_revocation=True,
    )

    async def login(request: Request) -> Response:
        body = await request.json()
        if body.get("password") != "correct horse":
            return JSONResponse({"error": "invalid_grant"}, status_code=401)
        pair = await tokens.aissue(body["user"], claims={"plan": "pro"})
        return JSONResponse(pair.as_dict(), headers={"Cache-Control": "no-store"})

    async def me(request: Request) -> Response:
        if request.session.user_id is None:
            return JSONResponse({"error": "login required"}, status_code=401)
        return JSONResponse({"user": request.session.user_id, "plan": request.session["plan"]})

    async def logout(request: Request) -> Response:
        await tokens.arevoke(request.session.handle)
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/login", login, methods=["POST"]),
            Route("/api/me", me),
            Route("/logout", logout, methods=["POST"]),
            Route("/token/refresh", refresh_endpoint(tokens), methods=["POST"]),
        ]
    )
    return SessionMiddleware(app, secret_keys=["k" * 48], backend=backend, tokens=tokens), tokens


@pytest.fixture
def server_url():
    app, _ = build_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_login_call_refresh_logout_over_real_http(server_url) -> None:
    """Issue, call with the bearer token, refresh, revoke: the old tokens then get 401."""
    with httpx.Client(base_url=server_url) as client:
        login = client.post("/login", json={"user": "alice", "password": "correct horse"})
        assert login.status_code == 200
        pair = login.json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        assert client.get("/api/me", headers=auth).json() == {"user": "alice", "plan": "pro"}

        refreshed = client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 200
        assert refreshed.headers["cache-control"] == "no-store"
        new = refreshed.json()
        new_auth = {"Authorization": f"Bearer {new['access_token']}"}
        assert client.get("/api/me", headers=new_auth).status_code == 200

        assert client.post("/logout", headers=new_auth).status_code == 204
        after = client.get("/api/me", headers=new_auth)
        assert after.status_code == 401
        assert after.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        dead = client.post("/token/refresh", json={"refresh_token": new["refresh_token"]})
        assert dead.status_code == 401 and dead.json()["error"] == "invalid_grant"
