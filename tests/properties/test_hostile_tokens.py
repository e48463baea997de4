"""Arbitrary Authorization headers and tokens never escape as an exception.

The bearer path (token mode, ``tokens=TokenService(...)``) reads a header
the attacker writes in full (ASVS 5.0 9.1.1, TK-02, TK-11, ID-08).  Whatever
arrives, the adapters answer with the app's response, 400 (two headers or a
URL-borne ID), 401 (a refused token) or 429 (the guard); the service's own
``verify``/``refresh`` raise only :class:`~sessionware.errors.InvalidToken`.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionware import SessionMiddleware, WSGISessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.errors import InvalidToken
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService

ALLOWED = {200, 400, 401, 429}
SECRET = "t" * 32
BACKEND = MemoryBackend()
CLOCK = FakeClock()
SERVICE = TokenService(
    BACKEND,
    keys={"k1": b"k" * 32},
    algorithm="HS256",
    issuer="https://issuer.test",
    audience="fuzz",
    clock=CLOCK,
)
PAIR = SERVICE.issue("alice")
GOOD = PAIR.access_token


def _flip(token: str, index: int, char: str) -> str:
    """``token`` with one character replaced (a near miss of a valid token)."""
    index %= len(token)
    return token[:index] + char + token[index + 1 :]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


token_text = st.one_of(
    st.text(max_size=200),
    st.just(GOOD),
    st.builds(_flip, st.just(GOOD), st.integers(0, 10_000), st.characters()),
    # Three segments of arbitrary JSON-ish bytes: reaches header/claims parsing.
    st.builds(
        lambda h, p, s: f"{_b64(h)}.{_b64(p)}.{_b64(s)}",
        st.one_of(st.binary(max_size=80), st.just(b'{"alg":"none","typ":"JWT"}')),
        st.binary(max_size=120),
        st.binary(max_size=40),
    ),
    st.text(alphabet="ab.-_=", max_size=9000),  # over-long (TK-11)
)
authorization = st.one_of(
    st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.builds(
        lambda scheme, token: f"{scheme} {token}".encode("utf-8", "replace"),
        st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Bearer ", ""]),
        token_text,
    ),
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = scope["session"]
    body = str(session.get("plan")).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


ASGI = SessionMiddleware(app, secret_keys=[SECRET], backend=BACKEND, tokens=SERVICE)


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    session = environ["sessionware.session"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(session.get("plan")).encode()]


WSGI = WSGISessionMiddleware(wsgi_app, secret_keys=[SECRET], backend=BACKEND, tokens=SERVICE)


async def _call(
    headers: list[tuple[bytes, bytes]], query: bytes, client: str = "203.0.113.9"
) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query,
        "headers": headers,
        "client": (client, 4321),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ASGI(scope, receive, send)
    return int(sent[0]["status"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(authorization, min_size=1, max_size=2),
    cookie=st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    query=st.binary(max_size=80),
)
def test_asgi_bearer_path_survives_any_authorization_header(
    values: list[bytes], cookie: bytes, query: bytes
) -> None:
    """Any Authorization header(s), cookie and query give a clean status over ASGI."""
    headers = [(b"authorization", v) for v in values] + [(b"cookie", cookie)]
    assert asyncio.run(_call(headers, query)) in ALLOWED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=authorization, query=st.binary(max_size=80))
def test_wsgi_bearer_path_survives_any_authorization_header(value: bytes, query: bytes) -> None:
    """Any Authorization header and query give a clean status over WSGI."""
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": query.decode("latin-1"),
        "HTTP_AUTHORIZATION": value.decode("latin-1"),
        "REMOTE_ADDR": "203.0.113.9",
    }
    body = WSGI(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    assert int(statuses[0].split()[0]) in ALLOWED


def test_the_valid_token_in_the_strategy_is_accepted() -> None:
    """The near-miss strategy starts from a token the gate really accepts."""
    headers = [(b"authorization", f"Bearer {GOOD}".encode())]
    # Another address: the hostile runs above may have got theirs blocked (429).
    assert asyncio.run(_call(headers, b"", client="198.51.100.77")) == 200
    assert SERVICE.verify(GOOD).user_id == "alice"


@settings(max_examples=500, deadline=None)
@given(token=st.one_of(token_text, st.binary(max_size=200), st.none(), st.integers()))
def test_verify_raises_only_invalid_token(token: Any) -> None:
    """``TokenService.verify`` accepts a valid token or raises ``InvalidToken``, nothing else."""
    try:
        claims = SERVICE.verify(token)
    except InvalidToken:
        return
    assert claims.handle == PAIR.handle  # only the genuine token verifies


@settings(max_examples=300, deadline=None)
@given(token=st.one_of(st.text(max_size=200), st.binary(max_size=100), st.none()))
def test_refresh_raises_only_invalid_token(token: Any) -> None:
    """``TokenService.refresh`` refuses arbitrary input with ``InvalidToken`` alone."""
    with pytest.raises(InvalidToken):
        SERVICE.refresh(token)
