"""Arbitrary client input never escapes as an exception: only clean statuses.

Cookie headers, query strings, paths and user agents are attacker-controlled
(ASVS 5.0 2.2.1, ID-08).  Whatever bytes arrive, the adapters answer with the
app's response, 400 (URL-borne ID) or 429 (the guard, on by default, blocks
the client after 20 bad cookies); never an unhandled exception.  Bearer
tokens and the Authorization header: test_hostile_tokens.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sessionware import SessionMiddleware, WSGISessionMiddleware
from sessionware.backends import MemoryBackend

ALLOWED = {200, 400, 401, 429}
SECRET = "h" * 32

header_bytes = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
cookie_text = st.one_of(
    header_bytes,
    st.builds(
        lambda a, b: f"__Host-session={a}; __Host-session={b}".encode("utf-8", "replace"),
        st.text(max_size=100),
        st.text(max_size=100),
    ),
    st.builds(
        lambda v: b"__Host-session=" + v,
        st.binary(max_size=120).filter(
            lambda b: b";" not in b and b"\r" not in b and b"\n" not in b
        ),
    ),
)


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = scope["session"]
    if scope["path"].endswith("w"):
        session["seen"] = session.get("seen", 0) + 1
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


MIDDLEWARE = SessionMiddleware(asgi_app, secret_keys=[SECRET], backend=MemoryBackend())


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    session = environ["sessionware.session"]
    if environ["PATH_INFO"].endswith("w"):
        session["seen"] = session.get("seen", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


WSGI = WSGISessionMiddleware(wsgi_app, secret_keys=[SECRET], backend=MemoryBackend())


async def _call(cookie: bytes, query: bytes, path: str, agent: bytes) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [(b"cookie", cookie), (b"user-agent", agent)],
        "client": ("203.0.113.5", 1234),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await MIDDLEWARE(scope, receive, send)
    return int(sent[0]["status"])


@settings(max_examples=300, deadline=None)
@given(
    cookie=cookie_text,
    query=st.binary(max_size=200),
    path=st.text(max_size=60).map(lambda p: "/" + p),
    agent=header_bytes,
)
def test_asgi_survives_any_cookie_query_path_and_agent(
    cookie: bytes, query: bytes, path: str, agent: bytes
) -> None:
    """The ASGI adapter turns any hostile input into a clean status."""
    assert asyncio.run(_call(cookie, query, path, agent)) in ALLOWED


@settings(max_examples=300, deadline=None)
@given(
    cookie=cookie_text,
    query=st.binary(max_size=200),
    path=st.text(max_size=60).map(lambda p: "/" + p),
)
def test_wsgi_survives_any_cookie_query_and_path(cookie: bytes, query: bytes, path: str) -> None:
    """The WSGI adapter turns any hostile input into a clean status."""
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query.decode("latin-1"),
        "HTTP_COOKIE": cookie.decode("latin-1"),
        "REMOTE_ADDR": "203.0.113.5",
    }
    body = WSGI(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    assert int(statuses[0].split()[0]) in ALLOWED
