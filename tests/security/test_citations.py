"""Tests written so that docs/SECURITY.md rows cite something that tests their claim.

Each one replaces a citation that passed with its defence removed: a source
grep for the ID generator (3.2.4), a token-in-URL request that also failed
for its empty body (13.1.3), an account-disable test without a cookie
session (TM-08).  Each test here fails when the defence it names is taken
out (see ``tests/test_security_matrix.py`` for the ones with a switch).
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import httpx
import pytest

from sessionware import SessionManager, SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.errors import InvalidToken
from sessionware.ids import new_id
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService, refresh_endpoint

SECRET = "c" * 32


def test_ids_are_the_os_csprng_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new session's ID is exactly 32 bytes from ``secrets`` (the OS CSPRNG), nothing else."""
    asked: list[int] = []
    pattern = bytes(range(32))

    def token_bytes(n: int | None = None) -> bytes:
        asked.append(int(n or 0))
        return pattern[: int(n or 0)]

    monkeypatch.setattr(secrets, "token_bytes", token_bytes)
    session_id = new_id()
    assert asked == [32]
    assert base64.urlsafe_b64decode(session_id + "=") == pattern


async def test_a_new_cookie_carries_the_csprng_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the middleware, the cookie's ID part is the CSPRNG's output, base64url."""
    pattern = bytes(range(100, 132))
    monkeypatch.setattr(secrets, "token_bytes", lambda n=None: pattern[: int(n or 0)])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["session"]["x"] = 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = SessionMiddleware(app, secret_keys=[SECRET], backend=MemoryBackend(), guard=None)
    transport = httpx.ASGITransport(app=mw)
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        response = await client.get("/")
    value = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert value.split(".")[0] == base64.urlsafe_b64encode(pattern).rstrip(b"=").decode()


def _service(backend: MemoryBackend, clock: FakeClock) -> TokenService:
    return TokenService(
        backend,
        keys={"k1": b"k" * 32},
        algorithm="HS256",
        issuer="https://issuer.test",
        audience="cite",
        clock=clock,
    )


async def test_a_refresh_token_in_the_url_is_refused_even_with_a_valid_body() -> None:
    """A refresh token in the query string is a 400 although the body holds a valid one (13.1.3)."""
    clock = FakeClock()
    service = _service(MemoryBackend(), clock)
    pair = service.issue("alice")
    transport = httpx.ASGITransport(app=refresh_endpoint(service))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        leaked = await client.post(
            "/",
            params={"refresh_token": pair.refresh_token},
            json={"refresh_token": pair.refresh_token},
        )
        assert leaked.status_code == 400
        assert leaked.json()["error"] == "invalid_request"
        # The body alone was fine: the URL is what got it refused, and nothing rotated.
        fine = await client.post("/", json={"refresh_token": pair.refresh_token})
    assert fine.status_code == 200
    assert json.loads(fine.content)["refresh_token"] != pair.refresh_token


async def test_revoke_user_ends_the_cookie_and_the_token_sessions() -> None:
    """Disabling an account (``revoke_user``) ends its cookie session and its tokens (TM-08)."""
    clock = FakeClock()
    backend = MemoryBackend()
    service = _service(backend, clock)
    user = f"alice-{secrets.token_hex(4)}"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = scope["session"]
        if scope["path"] == "/login":
            session.login(user)
        body = str(session.user_id).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    mw = SessionMiddleware(app, secret_keys=[SECRET], backend=backend, clock=clock)
    transport = httpx.ASGITransport(app=mw)
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        assert (await client.get("/login")).text == user
        assert (await client.get("/")).text == user  # the cookie session is live
        pair = service.issue(user)
        kinds = {s.kind for s in SessionManager(backend, clock=clock).list_sessions(user)}
        assert kinds == {"cookie", "token"}
        assert SessionManager(backend, clock=clock).revoke_user(user) == 2
        assert (await client.get("/")).text == "None"  # the cookie no longer signs anyone in
    with pytest.raises(InvalidToken):
        service.refresh(pair.refresh_token)
