"""docs/plain-http.md's claims about clients and plain HTTP, on a real server (#15 item 8).

Python clients (httpx, requests) never send a ``Secure`` cookie over
``http://``, not even to ``localhost`` or ``127.0.0.1``, so a local API test
silently loses its session; the documented fix for a local server is the
native ``secure=False`` with a non-prefixed name, which ``sessionware audit``
flags.  werkzeug's test client (Flask's too) sends it anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from werkzeug.test import Client

from sessionware import SessionConfig, SessionMiddleware, WSGISessionMiddleware, session_of
from sessionware.cli.audit import audit

from ..conftest import SECRET


async def count(request: Request) -> PlainTextResponse:
    session = session_of(request)
    session["n"] = session.get("n", 0) + 1
    return PlainTextResponse(str(session["n"]))


def serve(**options: Any) -> Iterator[int]:
    app = Starlette(routes=[Route("/", count)])
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET], **options)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def secure_port() -> Iterator[int]:
    yield from serve()


@pytest.fixture
def plain_port() -> Iterator[int]:
    yield from serve(cookie_name="session", secure=False)


def counts_with_httpx(url: str) -> list[str]:
    with httpx.Client() as client:
        return [client.get(url).text for _ in range(3)]


def counts_with_requests(url: str) -> list[str]:
    with requests.Session() as client:
        return [client.get(url, timeout=10).text for _ in range(3)]


CLIENTS = [counts_with_httpx, counts_with_requests]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("counts", CLIENTS, ids=["httpx", "requests"])
def test_python_clients_drop_the_secure_cookie_over_plain_http(
    secure_port: int, host: str, counts: Any
) -> None:
    """With the default Secure cookie, every request over http:// starts a new session."""
    assert counts(f"http://{host}:{secure_port}/") == ["1", "1", "1"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("counts", CLIENTS, ids=["httpx", "requests"])
def test_native_secure_false_with_a_plain_name_keeps_the_session(
    plain_port: int, host: str, counts: Any
) -> None:
    """``cookie_name="session", secure=False`` (local development) keeps the session."""
    assert counts(f"http://{host}:{plain_port}/") == ["1", "2", "3"]


def test_werkzeug_test_client_sends_secure_cookies_over_http() -> None:
    """werkzeug's (and so Flask's) test client keeps a Secure cookie even on http://."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = session_of(environ)
        session["n"] = session.get("n", 0) + 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session["n"]).encode()]

    client = Client(WSGISessionMiddleware(app, secret_keys=[SECRET]))
    assert [client.get("http://localhost/").text for _ in range(2)] == ["1", "2"]


def test_audit_flags_the_plain_http_development_setup() -> None:
    """``secure=False`` with a non-prefixed name fails the audit with the one Secure notice."""
    findings = audit(SessionConfig(secret_keys=[SECRET], cookie_name="session", secure=False))
    secure = next(f for f in findings if f.ids.startswith("v4.0.3-3.4.1"))
    assert secure.status == "FAIL"
    assert "never Secure (secure=False): for plain-HTTP development only" in secure.message
    prefix = next(f for f in findings if "prefix" in f.message)
    assert prefix.status == "FAIL"


def test_secure_false_logs_the_notice_at_startup(caplog: pytest.LogCaptureFixture) -> None:
    """Building a middleware with ``secure=False`` logs one line saying what it means."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    with caplog.at_level("WARNING", logger="sessionware"):
        WSGISessionMiddleware(app, secret_keys=[SECRET], cookie_name="dev", secure=False)
    (line,) = [r.getMessage() for r in caplog.records if "Secure" in r.getMessage()]
    assert line.startswith("session cookie 'dev' is never Secure (secure=False)")
    assert "production needs secure=True" in line


@pytest.mark.parametrize(
    ("spelling", "meaning"),
    [
        ("secure=False", "is never Secure"),
        ("https_only=False", "is Secure when the request arrived over HTTPS"),
        ("SESSION_COOKIE_SECURE=False", "is Secure when the request arrived over HTTPS"),
    ],
)
def test_the_three_spellings_share_one_message(spelling: str, meaning: str) -> None:
    """Each spelling yields the same sentence shape: cookie, meaning, spelling, what to do."""
    from sessionware.plain_http import secure_notice

    text = secure_notice(spelling, "session")
    assert text.startswith(f"session cookie 'session' {meaning}")
    assert f"({spelling})" in text and "secure=True" in text
