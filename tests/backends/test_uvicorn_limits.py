"""Limits over real HTTP on every backend (#13): the data cap and the eviction rules.

0.1 checked ``max_data_bytes`` per request only, so 12 parallel requests each
writing 40 KB to a different key stored 480 KB on every backend, and the
user was stuck afterwards.  The store now refuses the patch that would pass
the cap, atomically, and that request gets the usual "too large" answer.
The per-client anonymous limit evicts through ordinary store ops, so it is
checked on every backend too: only the flooder's own anonymous sessions go.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sessionware import GuardConfig, SessionMiddleware
from sessionware.backends import MemoryBackend, RedisBackend
from sessionware.records import data_size, encode

from ..adapters.uvicorn_support import serving
from ..conftest import SECRET
from .sql_support import make_store

CAP = 64 * 1024


async def size(request: Request) -> Response:
    """The session's stored size, as the store returned it to this request."""
    data = {k: encode(v) for k, v in request.session.items()}
    return PlainTextResponse(str(data_size(data)))


async def login(request: Request) -> Response:
    request.session.login("alice")
    return PlainTextResponse("ok")


async def whoami(request: Request) -> Response:
    return PlainTextResponse(f"{request.session.user_id}:{request.session.get('seed')}")


async def put(request: Request) -> Response:
    """Write ``n`` bytes under ``k``; with ``wait=N``, only once N such requests have loaded.

    The barrier makes the race deterministic: every request has read the
    session (the middleware loads it before the handler runs) before any of
    them commits, which is the interleaving that leaked on 0.1.
    """
    key = request.query_params["k"]
    wait = int(request.query_params.get("wait", 0))
    if wait:
        state = request.app.state
        if getattr(state, "barrier", None) is None:
            state.barrier = asyncio.Barrier(wait)
        await asyncio.wait_for(state.barrier.wait(), timeout=20)
    request.session[key] = key[-1] * int(request.query_params["n"])
    return PlainTextResponse("ok")


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis", "cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """Each backend users run, isolated (a file, a table prefix, a key prefix)."""
    if request.param == "memory":
        yield MemoryBackend()
    elif request.param == "redis":
        url = request.getfixturevalue("redis_url")
        backend = RedisBackend(url, prefix=request.getfixturevalue("redis_prefix"))
        yield backend
        backend.close()
    elif request.param == "cluster":  # a throwaway cluster this test session started
        url = request.getfixturevalue("redis_cluster")
        backend = RedisBackend(url, prefix=f"swcap:{uuid.uuid4().hex}:")
        yield backend
        backend.close()
    else:
        if request.param == "postgres":
            request.applymarker(pytest.mark.postgres)
        sql = make_store(request.param, tmp_path)
        yield sql.backend()
        sql.teardown()


def site(store: Any, **fields: Any) -> Starlette:
    """The test app over ``store``; its shutdown closes the store's async face."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.aclose()  # in the server's loop, where its async connections live

    routes = [
        Route("/put", put, methods=["POST"]),
        Route("/size", size),
        Route("/login", login),
        Route("/whoami", whoami),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(
        SessionMiddleware,
        secret_keys=[SECRET],
        cookie_name="sid",
        secure=False,
        backend=store,
        **fields,
    )
    return app


def test_parallel_writes_to_distinct_keys_never_pass_the_cap(store: Any) -> None:
    """12 parallel 40 KB writes: one is stored, the others answer 500, the store stays capped."""
    with serving(site(store), lifespan="on") as url:
        with httpx.Client(base_url=url) as client:
            assert client.post("/put", params={"k": "seed", "n": 1}).status_code == 200
            cookie = client.cookies["sid"]

        def write(i: int) -> int:
            with httpx.Client(base_url=url, cookies={"sid": cookie}, timeout=30) as c:
                params = {"k": f"k{i:02d}", "n": 40_000, "wait": 12}
                return c.post("/put", params=params).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(write, range(12)))
        with httpx.Client(base_url=url, cookies={"sid": cookie}) as client:
            stored = int(client.get("/size").text)
    assert sorted(statuses) == [200] + [500] * 11
    assert 40_000 < stored <= CAP


def test_an_anonymous_flood_evicts_only_the_flooders_oldest(store: Any) -> None:
    """Past create_limit one address loses its oldest anonymous sessions, never a login."""
    with serving(site(store, guard=GuardConfig(create_limit=3)), lifespan="on") as url:
        with httpx.Client(base_url=url) as user:
            user.get("/login")
            signed_in = user.cookies["sid"]
        cookies = []
        for _ in range(8):
            with httpx.Client(base_url=url) as visitor:
                assert visitor.post("/put", params={"k": "seed", "n": 1}).status_code == 200
                cookies.append(visitor.cookies["sid"])

        def whoami(cookie: str) -> str:
            with httpx.Client(base_url=url, cookies={"sid": cookie}) as client:
                return client.get("/whoami").text

        assert whoami(signed_in) == "alice:None"
        assert [whoami(c) for c in cookies] == ["None:None"] * 5 + ["None:d"] * 3
