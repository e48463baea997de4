"""Tombstones cost a live session nothing on the read path: no extra call or command (#17)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend, RedisBackend
from sessionware.records import Tombstone

from ..conftest import SECRET
from .conftest import RedisProcess


class Counted(MemoryBackend):
    """A memory store that counts its async calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def aload(self, key: str, now: float, touch: Any = None) -> Any:
        self.calls["load"] += 1
        return await super().aload(key, now, touch)

    async def aload_ending(self, key: str, now: float) -> Tombstone | None:
        self.calls["load_ending"] += 1
        return await super().aload_ending(key, now)

    async def aapply(self, ops: Any, now: float) -> Any:
        self.calls["apply"] += 1
        return await super().aapply(ops, now)


def app_on(backend: Any) -> SessionMiddleware:
    async def login(request: Request) -> PlainTextResponse:
        request.session.login("ada")
        return PlainTextResponse("ok")

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.session.user_id))

    routes = [Route("/login", login, methods=["POST"]), Route("/me", me)]
    return SessionMiddleware(Starlette(routes=routes), secret_keys=[SECRET], backend=backend)


async def reads(app: SessionMiddleware, n: int, before: Any = None) -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        await client.post("/login")
        await client.get("/me")  # warm: scripts loaded, connections open
        if before is not None:
            before()
        return [(await client.get("/me")).text for _ in range(n)]


def test_memory_live_reads_never_look_for_a_tombstone() -> None:
    """Ten reads of a live session: ten loads, no tombstone lookup, no write."""
    backend = Counted()
    assert asyncio.run(reads(app_on(backend), 10, backend.calls.clear)) == ["ada"] * 10
    assert backend.calls == Counter({"load": 10})


class WithoutTombstones(RedisBackend):
    """The same store with the optional capability switched off (as a 0.1 backend)."""

    keeps_tombstones = False


def commands_for_reads(backend: RedisBackend, probe: redis.Redis, n: int) -> int:
    """Commands the server ran (scripts' inner calls included) during ``n`` live reads."""
    marks: list[int] = []

    def mark() -> None:
        marks.append(int(probe.info("stats")["total_commands_processed"]))

    async def run() -> list[str]:
        got = await reads(app_on(backend), n, mark)
        mark()
        await backend.aclose()
        return got

    assert asyncio.run(run()) == ["ada"] * n
    return marks[1] - marks[0] - 1  # the INFO that took the first mark


@pytest.mark.redis
def test_redis_live_reads_cost_the_same_with_and_without_tombstones(
    private_redis: RedisProcess,
) -> None:
    """On a Redis server of its own, 20 live reads run as many commands either way."""
    probe = redis.Redis.from_url(private_redis.url)
    counts = []
    try:
        for kind in (RedisBackend, WithoutTombstones):
            backend = kind(private_redis.url, prefix=f"swtest:{uuid.uuid4().hex}:")
            counts.append(commands_for_reads(backend, probe, 20))
            backend.close()
    finally:
        probe.close()
    assert counts[0] == counts[1]
