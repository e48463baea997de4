"""FX-07 over real HTTP: parallel requests across a renewal are never signed out (#17).

uvicorn on a loopback port, httpx clients firing requests in parallel with
the same cookie while the session's ID is renewed (``renew_interval``), on
every backend; the server's clock is a :class:`~sessionware.testing.FakeClock`
the test moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sessionware import SessionMiddleware
from sessionware.events import Event
from sessionware.testing import FakeClock

from ..conftest import SECRET
from .every_store import KINDS, every_store

COOKIE = "sid_grace"


async def login(request: Request) -> Response:
    request.session.login(request.query_params["user"])
    return PlainTextResponse("ok")


async def whoami(request: Request) -> Response:
    await asyncio.sleep(0.05)  # keep requests in flight while another renews the ID
    return PlainTextResponse(str(request.session.user_id))


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    def redis_url() -> str:
        return str(request.getfixturevalue("redis_url"))

    def cluster() -> str:
        return str(request.getfixturevalue("redis_cluster"))

    for store in every_store(request.param, tmp_path, redis_url, cluster):
        yield store.backend


class Server:
    def __init__(self, backend: Any, **config: Any) -> None:
        self.clock = FakeClock()
        self.events: list[Event] = []
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            await backend.aclose()  # the async client lives on the server's loop

        routes = [Route("/login", login), Route("/whoami", whoami)]
        app = Starlette(routes=routes, lifespan=lifespan)
        wrapped = SessionMiddleware(
            app, secret_keys=[SECRET], cookie_name=COOKIE, secure=False, backend=backend,
            clock=self.clock, on_event=self.events.append, guard=None, **config,
        )  # fmt: skip
        cfg = uvicorn.Config(
            wrapped, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws="none"
        )
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def wave(base: str, cookie: str, n: int) -> list[httpx.Response]:
    """``n`` requests at once, each from its own connection, all carrying ``cookie``."""

    async def one() -> httpx.Response:
        async with httpx.AsyncClient(base_url=base, cookies={COOKIE: cookie}) as client:
            return await client.get("/whoami")

    return list(await asyncio.gather(*(one() for _ in range(n))))


def signed_out(response: httpx.Response) -> bool:
    return response.text != "ann" or "Max-Age=0" in response.headers.get("set-cookie", "")


def test_parallel_requests_across_a_renewal_stay_signed_in(backend: Any) -> None:
    """Requests in flight at the renewal, and ones sent with the old cookie just after, all
    get the user; only after rotation_grace does the old cookie stop working (stale_reuse)."""
    site = Server(backend, renew_interval=60, rotation_grace=5)
    with site as base:
        with httpx.Client(base_url=base) as client:
            client.get("/login", params={"user": "ann"})
            old = client.cookies[COOKIE]
        site.clock.advance(61)
        first = asyncio.run(wave(base, old, 8))
        assert not [r for r in first if signed_out(r)]
        renewed = {r.cookies[COOKIE] for r in first if COOKIE in r.cookies}
        assert len(renewed) >= 1 and old not in renewed
        site.clock.advance(2)  # inside the window: the old cookie still works
        second = asyncio.run(wave(base, old, 8))
        assert not [r for r in second if signed_out(r)]
        assert not [e for e in site.events if e.kind in ("stale_reuse", "unknown_id")]
        site.clock.advance(10)  # past the window: a copy of the old cookie is detected
        (late,) = asyncio.run(wave(base, old, 1))
        assert late.text == "None"
        assert [e.kind for e in site.events].count("stale_reuse") == 1
