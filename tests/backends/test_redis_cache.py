"""RedisBackend(client_cache=...): reads served from the process until Redis reports a change.

Ordering, never timing: each test waits for the event it needs (an
invalidation received, the tracking connection down or back) and then
checks what the next request sees.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from sessionware.backends import RedisBackend
from sessionware.backends.redis_cache import ClientCache
from sessionware.errors import ConfigError
from sessionware.records import Create, Delete, Patch

from .conformance import make_record
from .conftest import RedisProcess

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]


def wait_until(check: object, what: str, limit: float = 20.0) -> None:
    """Block until ``check()`` is true (the bound only keeps a broken run from hanging)."""
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.005)


class AppProcess:
    """One app server process (tests/backends/cache_app.py), one command per line."""

    def __init__(self, url: str, prefix: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.backends.cache_app", url, prefix],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def apps(private_redis: RedisProcess) -> Iterator[tuple[AppProcess, AppProcess]]:
    prefix = f"swtest:{uuid.uuid4().hex}:"
    one, two = AppProcess(private_redis.url, prefix), AppProcess(private_redis.url, prefix)
    try:
        assert one.ask("ready") == "ready" and two.ask("ready") == "ready"
        yield one, two
    finally:
        one.stop()
        two.stop()


def settle(backend: RedisBackend, url: str) -> None:
    """Wait until every invalidation caused so far has reached ``backend``'s cache.

    Messages arrive in order, so once a marker written now has been reported,
    every change made before it has been too.
    """
    tracker = backend.client_cache
    assert tracker is not None
    marker = f"marker-{uuid.uuid4().hex}"
    server = redis.Redis.from_url(url)
    server.set(backend.layout.session(marker), "1", px=60_000)
    server.close()
    wait_until(lambda: marker in tracker.last, "the marker's invalidation arrived")


def hgetalls(server: redis.Redis) -> int:
    stats = server.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


def test_a_logout_on_one_server_is_refused_on_the_other_after_one_message(
    apps: tuple[AppProcess, AppProcess], private_redis: RedisProcess
) -> None:
    """Server two serves the session from its cache; once server one logs it out and two has
    received the invalidation, two's next request is anonymous."""
    one, two = apps
    server = redis.Redis.from_url(private_redis.url)
    cookie = one.ask("login")
    assert two.ask(f"get {cookie}") == "alice"  # read from Redis, now cached in two
    before = hgetalls(server)
    assert two.ask(f"get {cookie}") == "alice"
    assert hgetalls(server) == before  # served by two's cache: no read reached Redis
    seen = int(two.ask("received"))
    assert one.ask(f"logout {cookie}") == "ok"
    wait_until(lambda: int(two.ask("received")) > seen, "server two got the invalidation")
    assert two.ask(f"get {cookie}") == "anonymous"
    server.close()


@pytest.fixture
def cached(private_redis: RedisProcess) -> Iterator[tuple[RedisBackend, list[str]]]:
    states: list[str] = []
    settings = ClientCache(ping_every=0.2, on_state=lambda kind, detail: states.append(kind))
    backend = RedisBackend(private_redis.url, client_cache=settings)
    tracker = backend.client_cache
    assert tracker is not None
    backend.load("warm-up", time.time())
    wait_until(lambda: tracker.healthy, "tracking is on")
    yield backend, states
    backend.close()


def test_own_commits_are_read_back_at_once(cached: tuple[RedisBackend, list[str]]) -> None:
    """A commit of this process drops its keys, so the next read never sees the old state."""
    backend, _ = cached
    now = time.time()
    rec = make_record(now, data={"n": "1"})
    backend.apply([Create(rec)], now)
    assert backend.load(rec.key, now) is not None
    for n in range(2, 6):
        assert backend.apply([Patch(rec.key, set={"n": str(n)})], now).ok
        got = backend.load(rec.key, now)
        assert got is not None and got.data == {"n": str(n)}
    backend.apply([Delete(rec.key)], now)
    assert backend.load(rec.key, now) is None


def test_a_dropped_invalidation_connection_empties_and_bypasses_the_cache(
    cached: tuple[RedisBackend, list[str]], private_redis: RedisProcess
) -> None:
    """Killing the tracking connection turns the cache off (an event says so), a change made
    meanwhile is read from Redis, and the cache comes back once tracking is on again."""
    backend, states = cached
    tracker = backend.client_cache
    assert tracker is not None
    now = time.time()
    rec = make_record(now, data={"v": "1"})
    backend.apply([Create(rec)], now)
    settle(backend, private_redis.url)  # our own create's invalidation came back first
    assert backend.load(rec.key, now) is not None and len(tracker) == 1
    server = redis.Redis.from_url(private_redis.url, decode_responses=True)
    server.client_kill_filter(_type="pubsub")
    wait_until(lambda: "client_cache_off" in states, "the cache turned itself off")
    server.hset(backend.layout.session(rec.key), "d:v", "2")
    got = backend.load(rec.key, now)
    assert got is not None and got.data == {"v": "2"}
    wait_until(lambda: states.count("client_cache_on") >= 2, "tracking came back")
    settle(backend, private_redis.url)
    assert backend.load(rec.key, now) is not None
    assert len(tracker) == 1
    server.close()


def test_the_cache_is_bounded(private_redis: RedisProcess) -> None:
    """No more than max_entries sessions are kept."""
    backend = RedisBackend(private_redis.url, client_cache=ClientCache(max_entries=3))
    tracker = backend.client_cache
    assert tracker is not None
    backend.load("warm-up", time.time())
    wait_until(lambda: tracker.healthy, "tracking is on")
    now = time.time()
    recs = [make_record(now) for _ in range(6)]
    backend.apply([Create(r) for r in recs], now)
    settle(backend, private_redis.url)
    for rec in recs:
        assert backend.load(rec.key, now) is not None
    assert len(tracker) == 3
    backend.close()


def test_client_cache_on_a_cluster_is_a_config_error(redis_url: str) -> None:
    """Redis Cluster, or clients passed in without a URL, are refused at construction."""
    with pytest.raises(ConfigError, match="Cluster"):
        RedisBackend("redis+cluster://127.0.0.1:7000", client_cache=True)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    aclient = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ConfigError, match="url"):
        RedisBackend(None, client=client, aclient=aclient, client_cache=True)
    client.close()
