"""end_reason through the integrations: FastAPI's 401 body and flask.session (#17)."""

from __future__ import annotations

from typing import Any

import flask
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sessionware import MemoryBackend, SessionManager, SessionMiddleware
from sessionware.integrations.fastapi import SessionDep, UserDep
from sessionware.integrations.flask import Sessionware
from sessionware.testing import FakeClock

from .conftest import SECRET

COOKIE = "__Host-session"


def fastapi_app(backend: MemoryBackend, clock: FakeClock) -> FastAPI:
    app = FastAPI()

    @app.post("/login")
    async def login(session: SessionDep) -> dict[str, Any]:
        session.login("ada")
        return {"ok": True}

    @app.get("/me")
    async def me(user_id: UserDep) -> dict[str, str]:
        return {"user": user_id}

    app.add_middleware(
        SessionMiddleware, secret_keys=[SECRET], clock=clock, backend=backend, idle_timeout=600
    )
    return app


def test_fastapi_401_says_the_session_was_revoked_from_another_device() -> None:
    """A cookie revoked by the user's "sign out everywhere" gets a 401 naming the reason."""
    backend, clock = MemoryBackend(), FakeClock()
    client = TestClient(fastapi_app(backend, clock), base_url="https://testserver")
    client.post("/login")
    assert client.get("/me").json() == {"user": "ada"}
    SessionManager(backend, clock=clock).revoke_user("ada", by="user")
    response = client.get("/me")
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert detail["error"] == "not_authenticated"
    assert detail["reason"] == "revoked" and detail["ended_by"] == "user"
    assert detail["ended_at"] == clock.now
    assert detail["message"].startswith("You were signed out from another device.")


def test_fastapi_401_says_the_session_expired_and_stays_plain_for_strangers() -> None:
    """An idle expiry is named; a request that never had a session gets the plain 401."""
    backend, clock = MemoryBackend(), FakeClock()
    client = TestClient(fastapi_app(backend, clock), base_url="https://testserver")
    client.post("/login")
    clock.advance(601)
    detail = client.get("/me").json()["detail"]
    assert detail["reason"] == "idle"
    assert "inactivity" in detail["message"]
    stranger = TestClient(fastapi_app(backend, clock), base_url="https://testserver")
    assert stranger.get("/me").json()["detail"] == {
        "error": "not_authenticated",
        "message": "Sign in to continue.",
    }


def test_flask_session_exposes_end_reason_ended_at_and_ended_by() -> None:
    """flask.session carries end_reason / ended_at / ended_by for a revoked cookie."""
    backend, clock = MemoryBackend(), FakeClock()
    app = flask.Flask("ends")
    app.config["SECRET_KEY"] = SECRET

    @app.post("/login")
    def login() -> str:
        flask.session.login("ada")  # type: ignore[attr-defined]
        return ""

    @app.get("/why")
    def why() -> dict[str, Any]:
        s: Any = flask.session
        return {"reason": s.end_reason, "at": s.ended_at, "by": s.ended_by, "user": s.user_id}

    Sessionware(app, backend=backend, clock=clock)
    client = app.test_client()
    client.post("/login", base_url="https://localhost")
    cookie = client.get_cookie(COOKIE, domain="localhost")
    assert cookie is not None
    assert client.get("/why", base_url="https://localhost").json["reason"] is None
    SessionManager(backend, clock=clock).revoke_user("ada", by="admin")
    got = client.get("/why", base_url="https://localhost").json
    assert got == {"reason": "revoked", "at": clock.now, "by": "admin", "user": None}
