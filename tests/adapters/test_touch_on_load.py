"""Sliding expiry rides on the read when the backend can do it (one round trip)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.testing import CountingBackend, FakeClock

SECRET = "t" * 32


async def write(request: Request) -> PlainTextResponse:
    request.session["n"] = 1
    return PlainTextResponse("ok")


async def read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.session.get("n")))


def test_a_read_after_touch_interval_is_one_load_and_no_write() -> None:
    """Past touch_interval, a read slides the deadline inside the load: no separate write."""
    clock = FakeClock()
    backend = CountingBackend(MemoryBackend())
    app = Starlette(routes=[Route("/w", write), Route("/r", read)])
    app.add_middleware(
        SessionMiddleware, secret_keys=[SECRET], backend=backend, clock=clock, idle_timeout=600
    )
    client = TestClient(app, base_url="https://testserver")
    client.get("/w")
    clock.advance(500)
    backend.calls.clear()
    assert client.get("/r").text == "1"
    assert backend.calls == {"load": 1}
    clock.advance(500)  # 1000 s after the write, but only 500 s after the sliding read
    assert client.get("/r").text == "1"
    clock.advance(601)
    assert client.get("/r").text == "None"
