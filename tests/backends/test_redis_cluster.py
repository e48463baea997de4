"""RedisBackend on a real 3-master Redis Cluster started by the fixture."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from sessionware.backends import RedisBackend
from sessionware.errors import BackendUnavailable
from sessionware.records import Create, Delete, Patch

from .conformance import LOOP_PATTERNS, BackendConformance, TouchOnLoadConformance, make_record
from .conftest import delete_prefix, free_ports
from .test_redis import check_manager
from .tombstones import TombstoneConformance

pytestmark = pytest.mark.redis


def nodes(url: str) -> list[redis.Redis]:
    hosts = url.split("://", 1)[1].split(",")
    return [redis.Redis(port=int(h.rsplit(":", 1)[1]), decode_responses=True) for h in hosts]


@pytest.fixture
def cluster_prefix(redis_cluster: str) -> Iterator[str]:
    prefix = f"swtest:{uuid.uuid4().hex}:"
    yield prefix
    for node in nodes(redis_cluster):
        delete_prefix(node, prefix)  # each master holds a share of the keys
        node.close()


@pytest.fixture
def backend(redis_cluster: str, cluster_prefix: str) -> Iterator[RedisBackend]:
    b = RedisBackend(redis_cluster, prefix=cluster_prefix)
    yield b
    b.close()


class TestRedisClusterConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    """The shared suite on Redis Cluster, where a session's keys live in different slots."""

    FACES = ("sync", *LOOP_PATTERNS)


def test_a_burst_of_first_commands_on_a_new_client_all_succeed(
    redis_cluster: str, cluster_prefix: str
) -> None:
    """Twelve concurrent first commands of a fresh async cluster client all get through.

    redis-py's async cluster client loads its slot map lazily inside each
    command; before the backend initialised it first, about half of such
    bursts lost commands to "Connection closed by server" (a 503 for a burst
    of requests right after start, or on a new event loop).  Ten fresh
    backends make a regression all but certain to show.
    """
    now = time.time()

    async def burst(backend: RedisBackend, key: str) -> list[Any]:
        patches = [[Patch(key, set={f"k{i}": '"v"'})] for i in range(12)]
        return await asyncio.gather(
            *(backend.aapply(ops, now) for ops in patches), return_exceptions=True
        )

    for round_ in range(10):
        backend = RedisBackend(redis_cluster, prefix=f"{cluster_prefix}{round_}:")
        try:
            rec = make_record(now)
            backend.apply([Create(rec)], now)  # the sync client: the async one is untouched
            results = asyncio.run(burst(backend, rec.key))
            assert [r for r in results if isinstance(r, BaseException)] == []
            assert all(r.ok for r in results)
            loaded = backend.load(rec.key, now)
            assert loaded is not None and len(loaded.data) == 12
        finally:
            backend.close()


def test_keys_of_one_session_spread_over_the_cluster(
    backend: RedisBackend, redis_cluster: str, cluster_prefix: str
) -> None:
    """The layout really is cross-slot: a user's sessions and indexes sit on several masters."""
    now = time.time()
    backend.apply([Create(make_record(now, user="spread")) for _ in range(6)], now)
    holders = [n for n in nodes(redis_cluster) if list(n.scan_iter(match=cluster_prefix + "*"))]
    assert len(holders) >= 2
    assert len(backend.by_user("spread", now)) == 6


def stats(url: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for node in nodes(url):
        for name, value in node.info("commandstats").items():
            if "info" not in name and "hello" not in name:  # our own probes
                out[name] = out.get(name, 0) + int(value["calls"])
        node.close()
    return out


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_load_and_patch_are_one_command_each(backend: RedisBackend, redis_cluster: str) -> None:
    """On the cluster, a load is one HGETALL and a data patch or touch one EVALSHA, both faces.

    The sync cluster pipeline would otherwise ask a node for the keys of
    each script (COMMAND GETKEYS); the backend names the node instead.
    """
    now = time.time()
    rec = make_record(now, user="rt")
    backend.apply([Create(rec)], now)
    backend.apply([Patch(rec.key, set={"w": "1"})], now)  # scripts cached on every node
    before = stats(redis_cluster)
    assert backend.load(rec.key, now) is not None
    assert delta(before, stats(redis_cluster)) == {"cmdstat_hgetall": 1}

    for patch in (
        Patch(rec.key, set={"a": "1"}, delete=("w",)),
        Patch(rec.key, meta={"expires_at": now + 900, "last_active": now}),
    ):
        before = stats(redis_cluster)
        assert backend.apply([patch], now).ok
        counts = delta(before, stats(redis_cluster))
        assert counts["cmdstat_evalsha"] == 1 and "cmdstat_command|getkeys" not in counts

    async def async_face() -> None:
        await backend.aload("warm-up", now)  # the client reads the slot map once
        before = stats(redis_cluster)
        assert await backend.aload(rec.key, now) is not None
        assert delta(before, stats(redis_cluster)) == {"cmdstat_hgetall": 1}
        before = stats(redis_cluster)
        assert (await backend.aapply([Patch(rec.key, set={"b": "2"})], now)).ok
        assert delta(before, stats(redis_cluster))["cmdstat_evalsha"] == 1
        await backend.aclose()

    asyncio.run(async_face())


def test_rotation_is_one_pipelined_batch_across_nodes(
    backend: RedisBackend, redis_cluster: str
) -> None:
    """A login rotation sends create, take-old, handle and index writes in one pipeline."""
    now = time.time()
    old = make_record(now, data={"cart": "[1]"})
    backend.apply([Create(old)], now)
    new = make_record(now, user="rot", handle=old.handle, data={"cart": "[1]"})
    batches: list[int] = []
    run = backend._run
    backend._run = lambda batch: batches.append(len(batch)) or run(batch)  # type: ignore[method-assign]
    assert backend.apply([Create(new, replaces=old.key)], now).ok
    assert batches == [5]  # CREATE, TAKE, SET, PEXPIREAT, USER
    assert backend.load(old.key, now) is None
    got = backend.load_handle(old.handle, now)
    assert got is not None and got.key == new.key and got.user_id == "rot"


def test_rotation_of_a_revoked_session_is_undone(
    backend: RedisBackend, redis_cluster: str, cluster_prefix: str
) -> None:
    """If the old record died meanwhile, the new one written in the same batch is removed again."""
    now = time.time()
    old = make_record(now)
    new = make_record(now, user="undo")
    assert not backend.apply([Create(new, replaces=old.key)], now).ok
    assert backend.load(new.key, now) is None
    assert backend.load_handle(new.handle, now) is None
    assert backend.by_user("undo", now) == []
    leftovers = [k for n in nodes(redis_cluster) for k in n.scan_iter(match=cluster_prefix + "*")]
    assert leftovers == []


def test_every_key_has_a_ttl_on_every_node(
    backend: RedisBackend, redis_cluster: str, cluster_prefix: str
) -> None:
    """No key the backend writes on any master lacks a TTL, after every kind of op."""
    now = time.time()
    a, b, c = (make_record(now, user="ttl") for _ in range(3))
    backend.apply([Create(a), Create(b), Create(c, max_per_user=2)], now)
    backend.apply([Patch(b.key, meta={"user_id": "ttl2", "absolute_at": now + 5000})], now)
    backend.apply([Create(make_record(now, user="ttl"), replaces=c.key)], now)
    backend.apply([Delete(b.key)], now)
    seen = 0
    for node in nodes(redis_cluster):
        for key in node.scan_iter(match=cluster_prefix + "*"):
            seen += 1
            assert node.pttl(key) > 0, key
        node.close()
    assert seen >= 3


def test_index_bookkeeping_after_user_change_and_delete(backend: RedisBackend) -> None:
    """A patch that changes the user moves the index entry; a delete drops handle and entry."""
    now = time.time()
    rec = make_record(now, user="before")
    backend.apply([Create(rec)], now)
    backend.apply([Patch(rec.key, meta={"user_id": "after"})], now)
    assert backend.by_user("before", now) == []
    assert [r.key for r in backend.by_user("after", now)] == [rec.key]
    backend.apply([Delete(rec.key)], now)
    client = backend._sync_client()
    assert client.exists(backend.layout.handle(rec.handle)) == 0
    assert client.exists(backend.layout.user("after")) == 0


def test_scripts_reload_on_every_node(backend: RedisBackend, redis_cluster: str) -> None:
    """After SCRIPT FLUSH on all masters, pipelined scripts fall back to EVAL and succeed."""
    now = time.time()
    rec = make_record(now, user="flush")
    for node in nodes(redis_cluster):
        node.script_flush()
        node.close()
    assert backend.apply([Create(rec)], now).ok
    assert backend.load(rec.key, now) is not None


def test_cluster_url_forms(redis_cluster: str, cluster_prefix: str) -> None:
    """cluster=True, redis+cluster:// and a list of hosts all select the cluster client."""
    hosts = redis_cluster.split("://", 1)[1]
    for backend in (
        RedisBackend(f"redis://{hosts.split(',')[0]}", cluster=True, prefix=cluster_prefix),
        RedisBackend(f"redis://{hosts}", prefix=cluster_prefix),
    ):
        assert isinstance(backend._sync_client(), RedisCluster)
        assert backend.load("nothing", time.time()) is None
        backend.close()


def test_unreachable_cluster_is_unavailable_on_both_faces() -> None:
    """A cluster URL with nothing listening fails each call with BackendUnavailable, no hang."""
    port = free_ports(30500, 1, bus=True)[0]
    backend = RedisBackend(f"redis+cluster://127.0.0.1:{port}", connect_timeout=0.2)
    with pytest.raises(BackendUnavailable):
        backend.load("x", time.time())
    with pytest.raises(BackendUnavailable):
        backend.apply([Delete("x")], time.time())

    async def async_face() -> None:
        with pytest.raises(BackendUnavailable):
            await backend.aload("x", time.time())
        await backend.aclose()

    asyncio.run(async_face())


def test_session_manager_on_the_cluster(backend: RedisBackend) -> None:
    """SessionManager lists and revokes a user's sessions on Redis Cluster (TM-02, TM-03)."""
    check_manager(backend)


def test_two_renewals_of_one_id_leave_the_successor_its_tombstone_names(
    backend: RedisBackend,
) -> None:
    """Concurrent renewals on a cluster: one wins, and the old ID leads to that one.

    The bad interleaving, played step by step: rotation A writes the "rotated"
    tombstone first, rotation B's TAKE of the old record runs first.  Before,
    B won the TAKE while the tombstone named A's successor, which was undone:
    every request still carrying the old cookie in its grace window was then
    signed out (``test_rotation_grace_http``'s flake on the cluster).
    """
    from sessionware.backends import redis_plans as plans
    from sessionware.records import ended

    now = time.time()
    old = make_record(now, user="ann")
    backend.apply([Create(old, keep_for=3600)], now)

    def rotation() -> tuple[Any, Any]:
        new = make_record(now, user="ann", handle=old.handle)
        tomb = ended(old, "rotated", now, 3600, successor=new.key, renewal=True)
        op = Create(new, replaces=old.key, tombstone=tomb, keep_for=3600)
        return new, plans.apply(backend.layout, [op], now, True)

    (new_a, plan_a), (new_b, plan_b) = rotation(), rotation()
    early_a, early_b = next(plan_a), next(plan_b)
    batch_a = plan_a.send(backend._run(early_a))  # A's tombstone is written first
    batch_b = plan_b.send(backend._run(early_b))
    results = {}
    for name, plan, batch in (("b", plan_b, batch_b), ("a", plan_a, batch_a)):  # B's TAKE first
        try:
            while True:
                batch = plan.send(backend._run(batch))
        except StopIteration as done:
            results[name] = done.value
    assert [results["a"].ok, results["b"].ok] == [True, False]
    ending = backend.load_ending(old.key, now)
    assert ending is not None and ending.successor == new_a.key
    assert backend.load(new_a.key, now) is not None
    assert backend.load(new_b.key, now) is None
    assert backend.load(old.key, now) is None
    handle = backend.load_handle(old.handle, now)
    assert handle is not None and handle.key == new_a.key
    assert [r.key for r in backend.by_user("ann", now)] == [new_a.key]
