"""RedisBackend on one Redis server: conformance, round trips, TTLs, faults, races."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from sessionware import SessionManager
from sessionware.backends import RedisBackend, from_url
from sessionware.errors import BackendError, BackendUnavailable, ConfigError
from sessionware.records import Create, Delete, Patch, Touch

from .conformance import LOOP_PATTERNS, BackendConformance, TouchOnLoadConformance, make_record
from .conftest import RedisProcess
from .tombstones import TombstoneConformance

pytestmark = pytest.mark.redis


@pytest.fixture
def backend(redis_url: str, redis_prefix: str) -> Iterator[RedisBackend]:
    b = RedisBackend(redis_url, prefix=redis_prefix)
    yield b
    b.close()


class TestRedisConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    """The shared suite on a single Redis server (each test under its own prefix)."""

    FACES = ("sync", *LOOP_PATTERNS)


def keys_and_ttls(client: redis.Redis, prefix: str) -> dict[str, int]:
    return {k: client.pttl(k) for k in client.scan_iter(match=prefix + "*")}


# -- round trips ------------------------------------------------------------------


class CountingConnection(redis.connection.Connection):
    """A real connection that counts the requests it flushes (one per round trip)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


class CountingAsyncConnection(redis.asyncio.connection.Connection):
    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingAsyncConnection.sent += 1
        await super().send_packed_command(command, check_health)


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {n: int(v["calls"]) for n, v in stats.items() if "info" not in n and "hello" not in n}


def test_load_and_apply_are_one_round_trip_each(private_redis: RedisProcess) -> None:
    """An existing session loads in 1 round trip and any commit applies in 1, on both faces.

    Counted at the socket (requests flushed) and cross-checked with the
    server's INFO commandstats.  Only the very first commit of each script
    after a server (re)start costs one more, to send it (NOSCRIPT -> EVAL).
    """
    url = private_redis.url
    client = redis.Redis.from_url(url, decode_responses=True, connection_class=CountingConnection)
    aclient = redis.asyncio.Redis.from_url(
        url, decode_responses=True, connection_class=CountingAsyncConnection
    )
    backend = RedisBackend(None, client=client, aclient=aclient)
    stats = redis.Redis.from_url(url, decode_responses=True)
    now = time.time()
    old = make_record(now, user="u", data={"a": "1"})
    new = make_record(now, user="u", data={"a": "1"})
    commits = [
        [Create(old, max_per_user=3)],
        [Patch(old.key, set={"b": "2"}, delete=("a",), meta={"last_active": now})],
        [Patch(old.key, meta={"expires_at": now + 900, "last_active": now + 1})],
        [Create(new, replaces=old.key, max_per_user=3)],
        [Delete(new.key)],
    ]
    backend.apply([Delete("warm-up")], now)  # the first commit on a fresh server loads the script
    backend.apply([Patch("warm-up")], now)  # and so does the first data patch (its own script)
    for ops in commits:
        rec = ops[0].record if isinstance(ops[0], Create) else None
        CountingConnection.sent = 0
        assert backend.apply(ops, now).ok
        assert CountingConnection.sent == 1, ops
        if rec is not None:
            before = commandstats(stats)
            CountingConnection.sent = 0
            assert backend.load(rec.key, now) is not None
            assert CountingConnection.sent == 1
            after = commandstats(stats)
            assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k)} == {
                "cmdstat_hgetall": 1
            }

    async def async_face() -> None:
        await backend.aapply([Delete("warm-up")], now)
        rec = make_record(now, user="v")
        for ops in ([Create(rec)], [Patch(rec.key, set={"x": "1"})]):
            CountingAsyncConnection.sent = 0
            assert (await backend.aapply(ops, now)).ok
            assert CountingAsyncConnection.sent == 1
        CountingAsyncConnection.sent = 0
        got = await backend.aload(rec.key, now)
        assert got is not None and got.data == {"x": "1"}
        assert CountingAsyncConnection.sent == 1
        await aclient.aclose()

    asyncio.run(async_face())
    client.close()
    stats.close()


def test_a_read_that_slides_the_expiry_is_one_round_trip(private_redis: RedisProcess) -> None:
    """Loading with a due Touch reads and slides the session in one request (one script)."""
    url = private_redis.url
    client = redis.Redis.from_url(url, decode_responses=True, connection_class=CountingConnection)
    aclient = redis.asyncio.Redis.from_url(
        url, decode_responses=True, connection_class=CountingAsyncConnection
    )
    backend = RedisBackend(None, client=client, aclient=aclient)
    now = time.time()
    rec = make_record(now - 120, ttl=600)
    backend.apply([Create(rec)], now)
    touch = Touch(after=60, idle=600, remember_idle=6000)
    backend.load(rec.key, now, touch)  # the first call on a fresh server loads the script
    later = now + 90
    CountingConnection.sent = 0
    got = backend.load(rec.key, later, touch)
    assert CountingConnection.sent == 1
    assert got is not None and got.last_active == pytest.approx(later, abs=1e-3)
    assert client.pttl(f"{backend.layout.session(rec.key)}") > 590_000

    async def async_face() -> None:
        await backend.aload(rec.key, later)  # open the pooled connection first
        CountingAsyncConnection.sent = 0
        got = await backend.aload(rec.key, later + 90, touch)
        assert CountingAsyncConnection.sent == 1
        assert got is not None and got.last_active == pytest.approx(later + 90, abs=1e-3)
        await aclient.aclose()

    asyncio.run(async_face())
    client.close()


def test_scripts_reload_after_script_flush(backend: RedisBackend, redis_url: str) -> None:
    """A server that lost its script cache (restart, SCRIPT FLUSH) gets the script again."""
    client = redis.Redis.from_url(redis_url)
    now = time.time()
    rec = make_record(now)
    client.script_flush()
    assert backend.apply([Create(rec)], now).ok
    client.script_flush()

    async def patch() -> None:
        assert (await backend.aapply([Patch(rec.key, set={"k": "1"})], now)).ok
        await backend.aclose()

    asyncio.run(patch())
    got = backend.load(rec.key, now)
    assert got is not None and got.data == {"k": "1"}
    client.close()


# -- layout and TTLs -----------------------------------------------------------------


def test_every_key_has_a_ttl_matching_its_deadline(
    backend: RedisBackend, redis_url: str, redis_prefix: str
) -> None:
    """Sessions expire at expires_at, handles and user indexes at their latest deadline."""
    now = time.time()
    short = make_record(now, user="ttl", ttl=100)
    long = make_record(now, user="ttl", ttl=300)
    anon = make_record(now, ttl=50)
    backend.apply([Create(short), Create(long), Create(anon)], now)
    backend.apply([Patch(short.key, meta={"expires_at": now + 150, "user_id": "ttl2"})], now)
    rotated = make_record(now, user="ttl", ttl=300, handle=long.handle)
    backend.apply([Create(rotated, replaces=long.key)], now)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ttls = keys_and_ttls(client, redis_prefix)
    assert ttls and all(ttl > 0 for ttl in ttls.values()), ttls
    expire_at = {k: client.execute_command("PEXPIRETIME", k) for k in ttls}
    layout = backend.layout
    assert expire_at[layout.session(short.key)] == pytest.approx((now + 150) * 1000, abs=2)
    assert expire_at[layout.session(anon.key)] == pytest.approx((now + 50) * 1000, abs=2)
    assert expire_at[layout.handle(anon.handle)] == pytest.approx((now + 100) * 1000, abs=2)
    assert expire_at[layout.user("ttl")] == pytest.approx((now + 600) * 1000, abs=2)
    assert expire_at[layout.user("ttl2")] == pytest.approx((now + 200) * 1000, abs=2)
    assert set(ttls) == {
        layout.session(short.key), layout.session(rotated.key), layout.session(anon.key),
        layout.handle(short.handle), layout.handle(rotated.handle), layout.handle(anon.handle),
        layout.user("ttl"), layout.user("ttl2"),
    }  # fmt: skip
    client.close()


def test_user_index_entries_of_expired_sessions_are_pruned(
    backend: RedisBackend, redis_url: str
) -> None:
    """Dead entries leave the user index on the next lookup or login, not only by TTL (TM-05)."""
    now = time.time()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ukey = backend.layout.user("pruned")
    dead = [make_record(now, user="pruned", ttl=50) for _ in range(3)]  # absolute: now + 100
    idle = make_record(now, user="pruned", ttl=60, absolute_at=now + 500)
    backend.apply([*map(Create, dead), Create(idle)], now)
    assert client.zcard(ukey) == 4
    later = now + 150
    backend.apply([Create(make_record(later, user="pruned"))], later)
    assert client.zcard(ukey) == 2  # absolute deadlines passed: gone on the write
    assert len(backend.by_user("pruned", later)) == 1
    assert client.zcard(ukey) == 1  # idle-expired: gone on the lookup
    client.close()


def test_data_keys_never_collide_with_metadata(backend: RedisBackend) -> None:
    """Session keys that look like internal field names are stored as plain data."""
    now = time.time()
    data = {"_e": "1", "_h": '"x"', "d:x": "2", "x:y": "3", "": "4"}
    rec = make_record(now, data=data, info={"_u": "ua"})
    backend.apply([Create(rec)], now)
    backend.apply([Patch(rec.key, set={"_a": "5"}, delete=("_e",))], now)
    got = backend.load(rec.key, now)
    assert got is not None
    assert got.data == {"_h": '"x"', "d:x": "2", "x:y": "3", "": "4", "_a": "5"}
    assert got.expires_at == rec.expires_at and got.user_id is None


def test_large_sessions_round_trip(backend: RedisBackend) -> None:
    """Thousands of keys in one create or patch are written in chunks Lua can take."""
    now = time.time()
    rec = make_record(now, data={f"k{i}": str(i) for i in range(3000)})
    assert backend.apply([Create(rec)], now).ok
    patch = Patch(rec.key, set={f"n{i}": "1" for i in range(2500)}, delete=tuple(rec.data))
    assert backend.apply([patch], now).ok
    got = backend.load(rec.key, now)
    assert got is not None and got.data == {f"n{i}": "1" for i in range(2500)}


def test_wrong_type_is_a_backend_error_not_unavailable(
    backend: RedisBackend, redis_url: str
) -> None:
    """A Redis that answers with an error is a BackendError, distinct from being down."""
    client = redis.Redis.from_url(redis_url)
    client.set(backend.layout.session("clash"), "not a hash")
    with pytest.raises(BackendError) as info:
        backend.load("clash", time.time())
    assert not isinstance(info.value, BackendUnavailable)
    assert isinstance(info.value.__cause__, redis.ResponseError)
    client.close()


# -- faults ---------------------------------------------------------------------------


def test_redis_down_raises_unavailable_and_recovers(private_redis: RedisProcess) -> None:
    """While Redis is stopped every call raises BackendUnavailable; restarted, it works (RS-05)."""
    backend = RedisBackend(private_redis.url, prefix="sw:")
    now = time.time()
    rec = make_record(now, user="f")
    loop = asyncio.new_event_loop()
    assert backend.apply([Create(rec)], now).ok
    assert loop.run_until_complete(backend.aload(rec.key, now)) is not None

    private_redis.stop()
    calls = [
        lambda: backend.load(rec.key, now),
        lambda: backend.apply([Patch(rec.key, set={"a": "1"})], now),
        lambda: backend.by_user("f", now),
        lambda: loop.run_until_complete(backend.aload(rec.key, now)),
        lambda: loop.run_until_complete(backend.aapply([Delete(rec.key)], now)),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable) as info:
            call()
        assert isinstance(info.value.__cause__, redis.ConnectionError)

    private_redis.start()  # same port, empty (no persistence): the old session is gone
    assert backend.load(rec.key, now) is None
    assert loop.run_until_complete(backend.aload(rec.key, now)) is None
    fresh = make_record(now)
    assert backend.apply([Create(fresh)], now).ok
    assert loop.run_until_complete(backend.aapply([Patch(fresh.key, set={"a": "1"})], now)).ok
    loop.run_until_complete(backend.aclose())
    loop.close()
    backend.close()


def test_restart_while_idle_costs_no_failed_call(private_redis: RedisProcess) -> None:
    """Pooled connections killed by a restart are replaced: the next call on each face works."""
    backend = RedisBackend(private_redis.url)
    loop = asyncio.new_event_loop()
    now = time.time()
    assert backend.load("x", now) is None
    assert loop.run_until_complete(backend.aload("x", now)) is None
    private_redis.stop()
    private_redis.start()
    rec = make_record(now)
    assert backend.apply([Create(rec)], now).ok
    assert loop.run_until_complete(backend.aload(rec.key, now)) is not None
    loop.run_until_complete(backend.aclose())
    loop.close()
    backend.close()


def test_hung_redis_times_out(private_redis: RedisProcess) -> None:
    """A Redis that accepts but never answers fails the call with BackendUnavailable."""
    backend = RedisBackend(private_redis.url, socket_timeout=0.2)
    assert backend.load("x", time.time()) is None
    assert private_redis.proc is not None
    private_redis.proc.send_signal(19)  # SIGSTOP: connected, silent
    try:
        with pytest.raises(BackendUnavailable) as info:
            backend.load("x", time.time())
        assert isinstance(info.value.__cause__, redis.TimeoutError)
    finally:
        private_redis.proc.send_signal(18)  # SIGCONT
    assert backend.load("x", time.time()) is None
    backend.close()


# -- concurrency ----------------------------------------------------------------------


def test_fifty_concurrent_patches_from_two_app_servers_keep_every_key(
    redis_url: str, redis_prefix: str
) -> None:
    """50 patches of distinct keys to one session from two backends at once all persist (CC-01)."""
    now = time.time()
    rec = make_record(now, data={"base": "0"})

    async def race() -> None:
        one, two = (
            RedisBackend(redis_url, prefix=redis_prefix),
            RedisBackend(redis_url, prefix=redis_prefix),
        )
        assert (await one.aapply([Create(rec)], now)).ok
        results = await asyncio.gather(
            *((one if i % 2 else two).aapply([Patch(rec.key, set={f"k{i}": str(i)})], now)
              for i in range(50))
        )  # fmt: skip
        assert all(r.ok for r in results)
        got = await two.aload(rec.key, now)
        assert got is not None
        assert got.data == {"base": "0", **{f"k{i}": str(i) for i in range(50)}}
        await one.aclose()
        await two.aclose()

    asyncio.run(race())


def test_concurrent_logins_respect_max_per_user(
    backend: RedisBackend, redis_url: str, redis_prefix: str
) -> None:
    """Parallel logins on two app servers with max_per_user=2 leave the two newest (TM-06)."""
    now = time.time()
    recs = [make_record(now + i / 100, user="many") for i in range(10)]
    other = RedisBackend(redis_url, prefix=redis_prefix)

    async def logins() -> None:
        await asyncio.gather(
            *((backend, other)[i % 2].aapply([Create(r, max_per_user=2)], now + 1)
              for i, r in enumerate(recs))
        )  # fmt: skip
        await backend.aclose()
        await other.aclose()

    asyncio.run(logins())
    assert [r.key for r in backend.by_user("many", now + 1)] == [recs[8].key, recs[9].key]


# -- construction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://localhost", id="wrong-scheme"),
        pytest.param("localhost:6379", id="no-scheme"),
        pytest.param("redis://h1:1,h2:x", id="bad-port"),
        pytest.param("redis+cluster://h1:1?ssl_cert_reqs=none", id="cluster-query"),
    ],
)
def test_bad_urls_are_config_errors(url: str) -> None:
    """A URL we cannot use is refused at construction with a ConfigError."""
    with pytest.raises(ConfigError):
        RedisBackend(url)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"prefix": ""}, id="empty-prefix"),
        pytest.param({"socket_timeout": 0}, id="zero-timeout"),
        pytest.param({"connect_timeout": float("inf")}, id="endless-connect"),
        pytest.param({"url": None}, id="no-url-no-clients"),
    ],
)
def test_unsafe_options_are_config_errors(options: dict[str, Any]) -> None:
    """Options that could hang the app or mix apps' keys are refused at construction."""
    with pytest.raises(ConfigError):
        RedisBackend(**{"url": "redis://127.0.0.1:6379/0", **options})


def test_from_url_and_repr(redis_url: str) -> None:
    """from_url builds a RedisBackend whose repr shows no credentials."""
    backend = from_url("redis://:hunter2@127.0.0.1:6379/0")
    assert isinstance(backend, RedisBackend)
    assert "hunter2" not in repr(backend)
    assert "cluster" in repr(RedisBackend("redis://127.0.0.1:7000,127.0.0.1:7001"))


def test_client_must_decode_responses(redis_url: str) -> None:
    """A client without decode_responses=True is refused, naming the option."""
    with pytest.raises(ConfigError, match="decode_responses"):
        RedisBackend(redis_url, client=redis.Redis.from_url(redis_url))


def check_manager(backend: RedisBackend) -> None:
    """Shared by the single-node and cluster tests: list, revoke, revoke_user, async twins."""
    now = time.time()
    recs = [make_record(now + i, user="mgr", info={"ip": f"198.51.100.{i}"}) for i in range(4)]
    backend.apply([Create(r) for r in recs], now)
    manager = SessionManager(backend, clock=lambda: now + 5)
    listed = manager.list_sessions("mgr")
    assert [s.handle for s in listed] == [r.handle for r in recs]
    assert listed[2].ip == "198.51.100.2"
    assert manager.revoke(recs[0].handle) and not manager.revoke(recs[0].handle)
    assert manager.revoke_user("mgr", keep=recs[3].handle) == 2
    assert [s.handle for s in manager.list_sessions("mgr")] == [recs[3].handle]
    assert backend.load(recs[1].key, now + 5) is None

    async def async_twins() -> None:
        assert [s.handle for s in await manager.alist_sessions("mgr")] == [recs[3].handle]
        assert await manager.arevoke_user("mgr") == 1
        assert await manager.alist_sessions("mgr") == []
        await backend.aclose()

    asyncio.run(async_twins())


def test_session_manager_on_redis(backend: RedisBackend) -> None:
    """SessionManager lists and revokes a user's sessions on Redis (TM-02, TM-03)."""
    check_manager(backend)
