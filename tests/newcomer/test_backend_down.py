"""``backend_down`` events and logs name the store and the cause, never credentials (#15 item 6)."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import Event, MemoryBackend, SessionMiddleware, session_of
from sessionware.backends import RedisBackend

from ..backends.conftest import free_ports
from ..conftest import SECRET


async def write(request: Request) -> PlainTextResponse:
    session_of(request)["n"] = 1
    return PlainTextResponse("ok")


async def read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(session_of(request).get("n")))


def app_on(backend: object, events: list[Event]) -> Starlette:
    app = Starlette(routes=[Route("/write", write), Route("/read", read)])
    app.add_middleware(
        SessionMiddleware, secret_keys=[SECRET], backend=backend, on_event=events.append
    )
    return app


def test_failed_write_event_and_log_carry_address_and_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A write to a Redis nobody listens on: 503, and the event says where and why."""
    port = free_ports(26420, 1)[0]
    events: list[Event] = []
    backend = RedisBackend(f"redis://:hunter2@127.0.0.1:{port}/0")
    client = TestClient(app_on(backend, events), base_url="https://testserver")
    with caplog.at_level(logging.ERROR, logger="sessionware.security"), client:
        assert client.get("/write").status_code == 503
    (down,) = [e for e in events if e.kind == "backend_down"]
    assert down.detail["store"] == f"redis://127.0.0.1:{port}/0"
    assert "refused" in down.detail["cause"].lower()
    assert down.detail["error"] == "BackendUnavailable"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"store=redis://127.0.0.1:{port}/0" in logged and "refused" in logged.lower()
    assert "hunter2" not in logged + repr(down)


def test_failed_read_event_carries_address_and_cause() -> None:
    """A valid cookie read while the store is down: anonymous, and the event names the store."""
    good: list[Event] = []
    with TestClient(app_on(MemoryBackend(), good), base_url="https://testserver") as client:
        client.get("/write")
        cookie = client.cookies["__Host-session"]
    port = free_ports(26430, 1)[0]
    events: list[Event] = []
    down_app = app_on(RedisBackend(f"redis://127.0.0.1:{port}/0"), events)
    with TestClient(down_app, base_url="https://testserver") as client:
        client.cookies.set("__Host-session", cookie)
        assert client.get("/read").text == "None"
    (down,) = [e for e in events if e.kind == "backend_down"]
    assert down.detail["store"] == f"redis://127.0.0.1:{port}/0"
    assert "refused" in down.detail["cause"].lower()
