"""Refresh tokens refused at the refresh endpoint count against the client (AN-01)."""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import GuardConfig, SessionMiddleware, TokenService
from sessionware.backends import MemoryBackend
from sessionware.tokens import refresh_endpoint


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def test_guessed_refresh_tokens_get_the_client_blocked() -> None:
    """Past bad_limit forged refresh tokens, the client is answered 429 everywhere."""
    backend = MemoryBackend()
    tokens = TokenService(
        backend,
        keys={"k1": secrets.token_bytes(32)},
        algorithm="HS256",
        issuer="https://issuer.test",
        audience="tests",
    )
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/token/refresh", refresh_endpoint(tokens), methods=["POST"]),
        ]
    )
    app.add_middleware(
        SessionMiddleware,
        secret_keys=["g" * 32],
        backend=backend,
        tokens=tokens,
        guard=GuardConfig(bad_limit=3),
    )
    client = TestClient(app, base_url="https://testserver", client=("203.0.113.9", 4000))
    assert client.get("/").status_code == 200
    pair = tokens.issue("alice")
    handle = pair.refresh_token.split(".", 1)[0]
    for _ in range(4):  # one past the limit
        forged = f"{handle}.{secrets.token_urlsafe(48)}"
        response = client.post("/token/refresh", json={"refresh_token": forged})
        assert response.status_code in (400, 401)
    blocked = client.get("/")
    assert blocked.status_code == 429
    assert "retry-after" in blocked.headers
