"""Regressions for what the fuzzers and property tests found (docs/SECURITY.md).

Each test replays one finding through the public API, so the fix cannot
silently regress even when the fuzz run in CI does not rediscover it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.errors import InvalidToken
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService

KEY = b"r" * 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(claims: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "at+jwt"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


@pytest.fixture
def service() -> TokenService:
    return TokenService(
        MemoryBackend(),
        keys={"k1": KEY},
        algorithm="HS256",
        issuer="https://issuer.test",
        audience="app",
        clock=FakeClock(1_800_000_000),
    )


def _claims(**override: Any) -> dict[str, Any]:
    now = 1_800_000_000
    claims = {
        "iss": "https://issuer.test",
        "aud": "app",
        "sub": "alice",
        "sid": "handle",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": "j",
        "auth_time": now,
        "typ": "at+jwt",
    }
    claims.update(override)
    return claims


@pytest.mark.parametrize(
    "claim",
    [pytest.param(name, id=name) for name in ("auth_time", "exp", "iat", "nbf")],
)
def test_huge_numeric_date_in_a_signed_token_is_refused_not_a_crash(
    service: TokenService, claim: str
) -> None:
    """A validly signed token with a 400-digit date is InvalidToken, not OverflowError (atheris)."""
    token = _signed(_claims(**{claim: 10**400}))
    with pytest.raises(InvalidToken):
        service.verify(token)


def test_sane_signed_claims_still_verify(service: TokenService) -> None:
    """The range check leaves ordinary tokens alone."""
    assert service.verify(_signed(_claims())).user_id == "alice"


def test_huge_auth_time_through_the_middleware_is_401(service: TokenService) -> None:
    """Over HTTP the same token is a clean 401 Bearer challenge, never a 500."""

    async def me(request: Any) -> PlainTextResponse:
        return PlainTextResponse(str(request.session.user_id))

    app = SessionMiddleware(
        Starlette(routes=[Route("/me", me)]),
        secret_keys=["x" * 32],
        backend=service.backend,
        tokens=service,
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        token = _signed(_claims(auth_time=10**400))
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer error=")
