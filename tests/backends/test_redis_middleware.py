"""SessionMiddleware on Redis: two app servers sharing sessions, and Redis going away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sessionware import SessionMiddleware
from sessionware.backends import RedisBackend
from sessionware.events import Event

from .conftest import RedisProcess

pytestmark = pytest.mark.redis

SECRET = "test-secret-0123456789-0123456789-abcdef"
COOKIE = "__Host-session"


class Gate:
    """Holds requests inside the app until the test opens it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.waiting = 0


def make_app(gate: Gate) -> Starlette:
    async def put(request: Request) -> PlainTextResponse:
        request.session[request.path_params["k"]] = request.path_params["v"]
        return PlainTextResponse("ok")

    async def get(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.session))

    async def slow_put(request: Request) -> PlainTextResponse:
        gate.waiting += 1
        await gate.open.wait()
        request.session["late"] = "1"
        return PlainTextResponse("ok")

    async def slow_get(request: Request) -> JSONResponse:
        gate.waiting += 1
        await gate.open.wait()
        return JSONResponse(dict(request.session))

    return Starlette(
        routes=[
            Route("/set/{k}/{v}", put),
            Route("/get", get),
            Route("/slow-set", slow_put),
            Route("/slow-get", slow_get),
        ]
    )


def client_for(app: SessionMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def two_servers(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two middleware instances, each with its own RedisBackend, on one Redis."""
    backends = [RedisBackend(redis_url, prefix=redis_prefix) for _ in range(2)]
    apps = [SessionMiddleware(make_app(Gate()), secret_keys=[SECRET], backend=b) for b in backends]
    async with client_for(apps[0]) as one, client_for(apps[1]) as two:
        yield one, two
    for backend in backends:
        await backend.aclose()


async def test_fifty_concurrent_requests_on_two_servers_keep_every_key(
    two_servers: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """50 concurrent requests over two app servers each set a key: all 50 persist (CC-01)."""
    one, two = two_servers
    first = await one.get("/set/base/0")
    cookie = {"cookie": f"{COOKIE}={first.cookies[COOKIE]}"}
    replies = await asyncio.gather(
        *((one, two)[i % 2].get(f"/set/k{i}/{i}", headers=cookie) for i in range(50))
    )
    assert [r.status_code for r in replies] == [200] * 50
    assert all(COOKIE not in r.headers.get("set-cookie", "") for r in replies)  # same session
    final = (await two.get("/get", headers=cookie)).json()
    assert final == {"base": "0", **{f"k{i}": str(i) for i in range(50)}}


async def test_redis_down_reads_anonymous_writes_503_then_recovers(
    private_redis: RedisProcess,
) -> None:
    """Redis stopped mid-request: writes answer 503, reads are anonymous, all without a
    traceback; once Redis is back the same middleware serves sessions again (RS-05)."""
    events: list[Event] = []
    gate = Gate()
    backend = RedisBackend(private_redis.url)
    app = SessionMiddleware(
        make_app(gate), secret_keys=[SECRET], backend=backend, on_event=events.append
    )
    async with client_for(app) as client:
        created = await client.get("/set/a/1")
        cookie = {"cookie": f"{COOKIE}={created.cookies[COOKIE]}"}
        in_flight = [
            asyncio.ensure_future(client.get("/slow-set", headers=cookie)),
            asyncio.ensure_future(client.get("/slow-get", headers=cookie)),
        ]
        while gate.waiting < 2:  # both loaded the session and wait inside the app
            await asyncio.sleep(0.01)
        await asyncio.to_thread(private_redis.stop)
        gate.open.set()
        late_write, late_read = await asyncio.gather(*in_flight)
        assert late_write.status_code == 503
        assert late_write.text == "Session store unavailable; please retry shortly.\n"
        assert late_read.status_code == 200 and late_read.json() == {"a": "1"}

        read = await client.get("/get", headers=cookie)
        assert read.status_code == 200 and read.json() == {}  # fail closed: anonymous
        write = await client.get("/set/b/2", headers=cookie)
        assert write.status_code == 503 and "Traceback" not in write.text
        assert any(e.kind == "backend_down" for e in events)

        await asyncio.to_thread(private_redis.start)  # same port, empty store
        again = await client.get("/set/c/3", headers=cookie)
        assert again.status_code == 200
        fresh = {"cookie": f"{COOKIE}={again.cookies[COOKIE]}"}
        assert (await client.get("/get", headers=fresh)).json() == {"c": "3"}
    await backend.aclose()
