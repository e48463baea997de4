"""Config errors stop the app from starting, also under Starlette's lazy ``add_middleware``."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import ConfigError, SessionMiddleware, WSGISessionMiddleware


def broken_app() -> Starlette:
    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(SessionMiddleware, secret_key="too-short")
    return app


def test_direct_construction_raises() -> None:
    """``SessionMiddleware(app, ...)`` built by the user raises where it is built."""
    with pytest.raises(ConfigError, match="at least 32"):
        SessionMiddleware(Starlette(), secret_key="too-short")


def test_wsgi_construction_raises() -> None:
    """The WSGI middleware raises where it is built."""
    with pytest.raises(ConfigError, match="at least 32"):
        WSGISessionMiddleware(lambda environ, start: [], secret_keys=["too-short"])


async def test_lifespan_startup_fails_with_the_message() -> None:
    """Under ``add_middleware`` the lifespan startup fails, carrying the config error."""
    inbox: list[dict[str, Any]] = [{"type": "lifespan.startup"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await broken_app()({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "at least 32" in sent[0]["message"]


def test_requests_without_lifespan_get_500_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Served without lifespan, each request is a 500 with one traceback-free log line."""
    client = TestClient(broken_app())
    with caplog.at_level(logging.ERROR, logger="sessionware"):
        for _ in range(2):
            response = client.get("/")
            assert response.status_code == 500
    records = [r for r in caplog.records if r.name == "sessionware"]
    assert len(records) == 2
    assert all("at least 32" in r.getMessage() and r.exc_info is None for r in records)


def test_uvicorn_exits_with_the_message(tmp_path: Path) -> None:
    """uvicorn in its default lifespan mode refuses to start and prints why."""
    (tmp_path / "brokenapp.py").write_text(
        textwrap.dedent(
            """
            from starlette.applications import Starlette
            from sessionware import SessionMiddleware

            app = Starlette()
            app.add_middleware(SessionMiddleware, secret_key="too-short")
            """
        )
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "brokenapp:app", "--port", "0", "--host", "127.0.0.1"],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{root}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "at least 32" in done.stderr
    assert "Traceback" not in done.stderr


async def test_fastapi_lifespan_startup_fails_too() -> None:
    """FastAPI builds its middleware the same lazy way; its startup fails the same way."""
    from fastapi import FastAPI

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="too-short")
    inbox: list[dict[str, Any]] = [{"type": "lifespan.startup"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
