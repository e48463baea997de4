"""Fixtures for the token tests: keys, a fake clock, backends, a service factory.

Backends are chosen by ``SESSIONWARE_TOKEN_BACKENDS`` (comma-separated,
default ``memory``).  ``redis`` and ``sql`` run the same tests on the real
stores once those backends exist; add or adjust their factories in
:data:`BACKEND_FACTORIES`.  A requested service that is missing skips loudly
locally and fails under ``CI=true`` (PREAMBLE rule).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from sessionware.backends import MemoryBackend
from sessionware.events import Event
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService
from sessionware.tokens.keys import generate_keypair
from tests.ci import in_ci

ISSUER = "https://api.example.test"
AUDIENCE = "mobile-app"


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(reason)
    pytest.skip(f"!!! {reason}")


def _memory() -> Iterator[Any]:
    yield MemoryBackend()


def _redis() -> Iterator[Any]:
    try:
        from sessionware.backends.redis import RedisBackend
    except ImportError as exc:
        _unavailable(f"RedisBackend not importable: {exc}")
    url = os.environ.get("SESSIONWARE_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"swtok:{secrets.token_hex(4)}:"  # one namespace per test, removed after it
    backend = RedisBackend(url, prefix=prefix)
    try:
        backend.load_handle("probe", 0.0)
    except Exception as exc:
        backend.close()
        _unavailable(f"Redis at {url} is unreachable: {exc}")
    yield backend
    backend.close()
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def _sql() -> Iterator[Any]:
    try:
        from sessionware.backends.sql import SQLBackend
    except ImportError as exc:
        _unavailable(f"SQLBackend not importable: {exc}")
    url = os.environ.get(
        "SESSIONWARE_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    backend = SQLBackend(url, table=f"sw_tok_{uuid.uuid4().hex[:12]}")  # isolated per test
    try:
        yield backend
    finally:
        backend.metadata.drop_all(backend.engine)
        backend.close()


#: name -> generator factory yielding a ready backend (and cleaning up after).
BACKEND_FACTORIES: dict[str, Callable[[], Iterator[Any]]] = {
    "memory": _memory,
    "redis": _redis,
    "sql": _sql,
}
SELECTED = [
    name.strip()
    for name in os.environ.get("SESSIONWARE_TOKEN_BACKENDS", "memory").split(",")
    if name.strip()
]


@pytest.fixture(params=SELECTED)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Each selected store, fresh per test; its async face is closed on the test's loop."""
    factory = BACKEND_FACTORIES[request.param]()
    store = next(factory)
    yield store
    await store.aclose()
    for _ in factory:  # run the factory's own cleanup
        pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def ed_keys() -> tuple[str, str]:
    return generate_keypair("EdDSA")


@pytest.fixture(scope="session")
def ec_keys() -> tuple[str, str]:
    return generate_keypair("ES256")


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def make_service(
    backend: Any, clock: FakeClock, ed_keys: tuple[str, str], events: list[Event]
) -> Callable[..., TokenService]:
    """Build a TokenService on the test backend; keywords override the defaults."""

    def make(**overrides: Any) -> TokenService:
        options: dict[str, Any] = {
            "keys": {"k1": ed_keys[0]},
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "clock": clock,
            "on_event": events.append,
        }
        options.update(overrides)
        target = options.pop("backend", backend)
        return TokenService(target, **options)

    return make


@pytest.fixture
def service(make_service: Callable[..., TokenService]) -> TokenService:
    return make_service()


# -- crafting tokens by hand ------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def valid_claims(now: float, **overrides: Any) -> dict[str, Any]:
    """Claims that would pass every check at ``now``; override one to test it."""
    iat = int(now)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "sid": "some-handle",
        "iat": iat,
        "nbf": iat,
        "exp": iat + 300,
        "jti": secrets.token_urlsafe(8),
        "auth_time": iat,
        "typ": "at+jwt",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def header(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def sign_ed(private_pem: str, head: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact JWS signed with an Ed25519 key, header and claims as given."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key: Any = load_pem_private_key(private_pem.encode(), password=None)
    signing_input = f"{segment(head)}.{segment(claims)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def sign_hs(secret: bytes, head: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact JWS with an HMAC-SHA256 signature over any byte string as the key."""
    signing_input = f"{segment(head)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"
