"""Refresh tokens refused at the refresh endpoint count against the client (AN-01, #13)."""

from __future__ import annotations

import json
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


def build() -> tuple[TestClient, TokenService]:
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
    return client, tokens


def test_guessed_refresh_tokens_get_the_guesses_refused() -> None:
    """Past bad_limit forged refresh tokens get 429; the client's valid token still refreshes."""
    client, tokens = build()
    pair = tokens.issue("alice")
    handle = pair.refresh_token.split(".", 1)[0]
    statuses = []
    for _ in range(5):
        forged = f"{handle}.{secrets.token_urlsafe(48)}"
        statuses.append(client.post("/token/refresh", json={"refresh_token": forged}))
    assert [r.status_code for r in statuses] == [401, 401, 401, 429, 429]
    assert "retry-after" in statuses[-1].headers
    assert client.get("/").status_code == 200  # no credential: never refused (#13)
    fresh = client.post("/token/refresh", json={"refresh_token": pair.refresh_token})
    assert fresh.status_code == 200


def test_text_plain_and_cross_site_refreshes_do_not_count() -> None:
    """A cross-site form (text/plain) or a cross-site fetch is refused unread and never counts."""
    client, tokens = build()
    handle = tokens.issue("alice").refresh_token.split(".", 1)[0]
    for _ in range(10):
        body = json.dumps({"refresh_token": f"{handle}.{secrets.token_urlsafe(48)}"})
        plain = client.post("/token/refresh", content=body, headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        cross = client.post(
            "/token/refresh",
            content=body,
            headers={"content-type": "application/json", "origin": "https://evil.example"},
        )
        assert cross.status_code == 403
    forged = f"{handle}.{secrets.token_urlsafe(48)}"
    assert client.post("/token/refresh", json={"refresh_token": forged}).status_code == 401
