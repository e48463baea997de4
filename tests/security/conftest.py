"""A small Starlette app behind SessionMiddleware, for end-to-end security tests.

Requests go through the real middleware over Starlette's TestClient with an
``https://`` base URL (Python's cookie jar withholds ``Secure`` cookies over
plain http).  Every security event lands in ``events``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.events import Event
from sessionware.testing import FakeClock

from ..conftest import SECRET


def routes() -> list[Route]:
    async def login(request: Request) -> JSONResponse:
        body = await request.json()
        request.session.login(body["user"], remember=body.get("remember", False))
        request.session.update(body.get("data", {}))
        return JSONResponse({"ok": True})

    async def data(request: Request) -> JSONResponse:
        session = request.session
        return JSONResponse({"user": session.user_id, "data": dict(session)})

    async def write(request: Request) -> JSONResponse:
        request.session.update(await request.json())
        return JSONResponse({"ok": True})

    async def regenerate(request: Request) -> JSONResponse:
        request.session.regenerate()
        return JSONResponse({"ok": True})

    async def logout(request: Request) -> JSONResponse:
        request.session.logout()
        return JSONResponse({"ok": True})

    return [
        Route("/login", login, methods=["POST"]),
        Route("/data", data),
        Route("/write", write, methods=["POST"]),
        Route("/regenerate", regenerate, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


class Site:
    """The app, its store, its clock and what it reported."""

    def __init__(
        self, *, backend: MemoryBackend | None = None, clock: FakeClock | None = None, **config: Any
    ) -> None:
        self.backend = backend if backend is not None else MemoryBackend()
        self.clock = clock if clock is not None else FakeClock()
        self.events: list[Event] = []
        config.setdefault("secret_keys", [SECRET])
        self.app = SessionMiddleware(
            Starlette(routes=routes()),
            backend=self.backend,
            clock=self.clock,
            on_event=self.events.append,
            **config,
        )

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="https://testserver")

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def site() -> Iterator[Site]:
    yield Site()
