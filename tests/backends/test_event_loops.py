"""One backend object, many event loops: TestClient without ``with``, loop per test, asyncio.run.

An app is usually built at import time, with its backend, and then meets a
new event loop per request (Starlette's ``TestClient`` without ``with``),
per test (pytest-asyncio) or per call (a script running ``asyncio.run``
repeatedly).  Each pattern below runs on Redis (one node and a cluster), on
SQLite through aiosqlite and on PostgreSQL through psycopg's async face.
The suite turns warnings into errors, so a socket left open by a finished
loop fails the test as well.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import SessionMiddleware
from sessionware.backends import RedisBackend
from sessionware.backends.sql import SQLBackend
from sessionware.records import Create

from .conformance import make_record
from .conftest import REDIS_URL, delete_prefix, unavailable
from .sql_support import postgres_url

SECRET = "test-secret-0123456789-0123456789-abcdef"
KINDS = [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("cluster", marks=pytest.mark.redis),
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def _redis_ready() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"no Redis at {REDIS_URL} ({exc})")
    finally:
        client.close()


@pytest.fixture(scope="module", params=KINDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One backend per kind, shared by every test of this module (so by several loops)."""
    kind = request.param
    prefix = f"swtest:{uuid.uuid4().hex}:"
    backend: Any
    if kind == "redis":
        _redis_ready()
        backend = RedisBackend(REDIS_URL, prefix=prefix)
    elif kind == "cluster":
        backend = RedisBackend(request.getfixturevalue("redis_cluster"), prefix=prefix)
    elif kind == "sqlite":
        backend = SQLBackend(f"sqlite:///{tmp_path_factory.mktemp('loops')}/s.db")
    else:
        backend = SQLBackend(postgres_url(), table=f"sw_test_{uuid.uuid4().hex[:12]}")
    yield backend
    asyncio.run(backend.aclose())
    if isinstance(backend, SQLBackend):
        if kind == "postgres":
            backend.metadata.drop_all(backend.engine)
    else:
        client = backend._sync_client()
        nodes = client.get_primaries() if kind == "cluster" else [None]
        for node in nodes:
            target = client if node is None else client.get_redis_connection(node)
            delete_prefix(target, prefix)
    backend.close()


def _app(backend: Any) -> SessionMiddleware:
    async def put(request: Request) -> PlainTextResponse:
        request.session[request.path_params["k"]] = request.path_params["v"]
        return PlainTextResponse("ok")

    async def get(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.session))

    app = Starlette(routes=[Route("/set/{k}/{v}", put), Route("/get", get)])
    return SessionMiddleware(app, secret_keys=[SECRET], backend=backend)


def test_testclient_without_with_gets_a_new_loop_per_request(shared: Any) -> None:
    """TestClient(app) without ``with`` runs each request in a fresh loop: all of them work."""
    client = TestClient(_app(shared), base_url="https://testserver")
    assert client.get("/set/a/1").status_code == 200
    assert client.get("/set/b/2").status_code == 200
    for _ in range(3):
        reply = client.get("/get")
        assert reply.status_code == 200
        assert reply.json() == {"a": "1", "b": "2"}


def test_asyncio_run_called_repeatedly(shared: Any) -> None:
    """A script calling asyncio.run once per operation reuses one backend object."""
    now = time.time()
    records = [make_record(now, user="loops", data={"n": str(i)}) for i in range(3)]
    for rec in records:
        assert asyncio.run(shared.aapply([Create(rec)], now)).ok
    for rec in records:
        got = asyncio.run(shared.aload(rec.key, now))
        assert got is not None and got.data == rec.data
    assert len(asyncio.run(shared.aby_user("loops", now))) >= 3


def test_a_loop_closed_without_shutdown_leaves_nothing_open(shared: Any) -> None:
    """Old-style code closing its loop bare: the next loop still works, no socket leaks."""
    now = time.time()
    rec = make_record(now)
    for step in range(3):
        loop = asyncio.new_event_loop()
        try:
            if step == 0:
                assert loop.run_until_complete(shared.aapply([Create(rec)], now)).ok
            got = loop.run_until_complete(shared.aload(rec.key, now))
            assert got is not None and got.key == rec.key
        finally:
            loop.close()


@pytest.mark.parametrize("round_", [1, 2, 3])
async def test_each_pytest_asyncio_test_gets_its_own_loop(shared: Any, round_: int) -> None:
    """Three tests, three loops, one backend object: every one of them writes and reads."""
    now = time.time()
    rec = make_record(now, data={"round": str(round_)})
    assert (await shared.aapply([Create(rec)], now)).ok
    got = await shared.aload(rec.key, now)
    assert got is not None and got.data == {"round": str(round_)}


def test_redis_keeps_one_client_per_live_loop(redis_url: str) -> None:
    """Clients of finished loops are dropped, so a long run of asyncio.run holds none."""
    backend = RedisBackend(redis_url, prefix=f"swtest:{uuid.uuid4().hex}:")
    for _ in range(5):
        asyncio.run(backend.aload("nothing", time.time()))
    assert len(backend._loops) == 0
    backend.close()
