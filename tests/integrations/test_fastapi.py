"""FastAPI dependencies: session, signed-in user, recent authentication, OpenAPI."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from sessionware import MemoryBackend, SessionMiddleware
from sessionware.integrations.fastapi import (
    AUTH_RESPONSES,
    BearerAuth,
    SessionAuth,
    SessionDep,
    TokenUserDep,
    UserDep,
    require_recent_auth,
    require_recent_token_auth,
)
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService

from .conftest import SECRET


def make_app(clock: FakeClock | None = None) -> tuple[FastAPI, TestClient]:
    clock = clock or FakeClock()
    auth = SessionAuth(clock=clock)
    app = FastAPI()

    @app.post("/login")
    async def login(session: SessionDep, user: str = "ada") -> dict[str, Any]:
        session.login(user)
        return {"ok": True}

    @app.get("/visits")
    async def visits(session: SessionDep) -> dict[str, Any]:
        session["n"] = session.get("n", 0) + 1
        return {"n": session["n"], "user": session.user_id}

    @app.get("/me", responses=AUTH_RESPONSES)
    async def me(user_id: UserDep) -> dict[str, str]:
        return {"user": user_id}

    @app.post("/transfer", dependencies=[Depends(auth.require_recent_auth(300))])
    async def transfer() -> dict[str, bool]:
        return {"done": True}

    @app.post("/default-recent", dependencies=[Depends(require_recent_auth(300))])
    async def default_recent() -> dict[str, bool]:
        return {"done": True}

    app.add_middleware(SessionMiddleware, secret_keys=[SECRET], clock=clock)
    return app, TestClient(app, base_url="https://testserver")


def test_session_dep_is_the_middleware_session() -> None:
    """``SessionDep`` hands the route the request's sessionware session."""
    _, client = make_app()
    assert client.get("/visits").json() == {"n": 1, "user": None}
    assert client.get("/visits").json() == {"n": 2, "user": None}


def test_require_user_rejects_anonymous_requests() -> None:
    """Anonymous requests get 401 with a reason and a challenge header."""
    _, client = make_app()
    response = client.get("/me")
    assert response.status_code == 401
    assert response.json()["detail"]["error"] == "not_authenticated"
    assert response.headers["www-authenticate"].startswith("Cookie ")


def test_require_user_returns_the_signed_in_user() -> None:
    """After ``login()`` the dependency yields the user ID."""
    _, client = make_app()
    client.post("/login", params={"user": "grace"})
    assert client.get("/me").json() == {"user": "grace"}


def test_recent_auth_allows_fresh_and_refuses_stale_sign_ins() -> None:
    """``require_recent_auth(300)`` passes at 299 s and refuses at 301 s with the ages (TM-07)."""
    clock = FakeClock()
    _, client = make_app(clock)
    client.post("/login")
    clock.advance(299)
    assert client.post("/transfer").json() == {"done": True}
    clock.advance(2)
    response = client.post("/transfer")
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert detail["error"] == "reauthentication_required"
    assert detail["max_age"] == 300 and detail["auth_age"] == 301
    assert "sign in again" in detail["message"].lower()
    assert 'error="insufficient_user_authentication"' in response.headers["www-authenticate"]


def test_signing_in_again_satisfies_recent_auth() -> None:
    """Re-authenticating (a new ``login()``) resets ``auth_time``."""
    clock = FakeClock()
    _, client = make_app(clock)
    client.post("/login")
    clock.advance(1000)
    assert client.post("/transfer").status_code == 401
    client.post("/login")
    assert client.post("/transfer").status_code == 200


def test_recent_auth_rejects_anonymous_requests_first() -> None:
    """Anonymous requests to a step-up route get ``not_authenticated``, not an age."""
    _, client = make_app()
    response = client.post("/default-recent")
    assert response.status_code == 401
    assert response.json()["detail"]["error"] == "not_authenticated"


def test_missing_middleware_is_a_clear_error() -> None:
    """Using the dependencies without the middleware names the fix."""
    app = FastAPI()

    @app.get("/")
    async def view(session: SessionDep) -> None:
        return None

    with pytest.raises(RuntimeError, match="SessionMiddleware"):
        TestClient(app).get("/")


@pytest.mark.parametrize("bad", [0, -1, float("inf")])
def test_bad_max_age_is_refused(bad: float) -> None:
    """``require_recent_auth`` needs a positive, finite age."""
    with pytest.raises(ValueError, match="max_age"):
        require_recent_auth(bad)


def token_app(clock: FakeClock) -> tuple[TokenService, TestClient]:
    """A FastAPI app in token mode with a real TokenService (HS256, memory store)."""
    service = TokenService(
        MemoryBackend(),
        keys={"k1": secrets.token_bytes(32)},
        algorithm="HS256",
        issuer="https://auth.example.test",
        audience="api",
        clock=clock,
    )
    bearer = BearerAuth(clock=clock)
    app = FastAPI()

    @app.get("/api/me")
    async def me(user_id: TokenUserDep) -> dict[str, str]:
        return {"user": user_id}

    @app.post("/api/delete", dependencies=[Depends(bearer.require_recent_auth(60))])
    async def delete() -> dict[str, bool]:
        return {"deleted": True}

    app.add_middleware(
        SessionMiddleware,
        secret_keys=[SECRET],
        backend=service.backend,
        tokens=service,
        transport="both",
        clock=clock,
    )
    return service, TestClient(app, base_url="https://testserver")


def test_token_dependencies_accept_a_valid_bearer_token() -> None:
    """With token mode on, the bearer dependencies read the token session from the scope."""
    clock = FakeClock()
    service, client = token_app(clock)
    token = service.issue("ada").access_token
    headers = {"authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=headers).json() == {"user": "ada"}
    assert client.post("/api/delete", headers=headers).json() == {"deleted": True}


def test_token_dependencies_answer_with_bearer_challenges() -> None:
    """Anonymous: ``Bearer``; stale: RFC 9470 ``insufficient_user_authentication`` with max_age."""
    clock = FakeClock()
    service, client = token_app(clock)
    anonymous = client.get("/api/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    token = service.issue("ada").access_token
    clock.advance(90)  # the access token (5 min) is still valid; the sign-in is not recent
    stale = client.post("/api/delete", headers={"authorization": f"Bearer {token}"})
    assert stale.status_code == 401
    challenge = stale.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert 'max_age="60"' in challenge


def test_openapi_documents_the_security_schemes() -> None:
    """Guarded routes carry the cookie scheme; open routes carry none and no stray parameters."""
    app, _ = make_app()
    schema = app.openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["SessionCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-session",
        "description": "Server-side session, sent as an HttpOnly cookie after sign-in.",
    }
    paths = schema["paths"]
    assert paths["/me"]["get"]["security"] == [{"SessionCookie": []}]
    assert "401" in paths["/me"]["get"]["responses"]
    assert paths["/transfer"]["post"]["security"] == [{"SessionCookie": []}]
    assert "security" not in paths["/visits"]["get"]
    assert "parameters" not in paths["/visits"]["get"]
    assert "parameters" not in paths["/me"]["get"]


def test_openapi_documents_the_bearer_scheme() -> None:
    """Token-mode routes declare an HTTP bearer (JWT) scheme."""
    app = FastAPI()

    @app.get("/api/me")
    async def me(user_id: TokenUserDep) -> dict[str, str]:
        return {"user": user_id}

    @app.post("/api/step-up", dependencies=[Depends(require_recent_token_auth(60))])
    async def step_up() -> None:
        return None

    schema = app.openapi()
    scheme = schema["components"]["securitySchemes"]["BearerToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    assert schema["paths"]["/api/me"]["get"]["security"] == [{"BearerToken": []}]
    assert schema["paths"]["/api/step-up"]["post"]["security"] == [{"BearerToken": []}]


def test_custom_cookie_name_appears_in_the_schema() -> None:
    """``SessionAuth(cookie_name=...)`` documents the configured cookie."""
    auth = SessionAuth(cookie_name="__Host-app", scheme_name="AppSession")
    app = FastAPI()

    @app.get("/me")
    async def me(user_id: str = Depends(auth.require_user)) -> dict[str, str]:
        return {"user": user_id}

    scheme = app.openapi()["components"]["securitySchemes"]["AppSession"]
    assert scheme["name"] == "__Host-app"
