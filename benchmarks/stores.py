"""The Redis floor figures of issue #16, and its targets.

``measure(quick)`` (section ``stores``) times, on one ``redis.asyncio``
client and in interleaved rounds:

* a bare ``GET`` of a string holding the same bytes as a stored session's
  hash, against ``RedisBackend.aload`` of that session (one ``HGETALL``,
  parsed into a record with its expiry checked): the difference is the
  client-side cost of a read;
* a bare ``SET`` against ``aapply`` of a one-key data patch (one script);
* ``aload`` served by the client cache (``client_cache=True``);
* the invalidation delivery delay: another client changes a cached session
  and the clock runs until the cache has dropped it (median and p90 over
  many changes), from the change's reply and from just before it was sent.

Process CPU time is reported next to wall time: on a shared machine the
wall figures carry other processes' load, CPU time mostly does not.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from typing import Any

from .targets import Target


def measure(quick: bool) -> tuple[dict[str, Any] | None, str | None]:
    try:
        import redis
        import redis.asyncio

        from sessionware.backends.redis import RedisBackend
    except ImportError as exc:
        return None, f"redis is not available ({exc})"
    url = os.environ.get("SESSIONWARE_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        return None, f"redis is not reachable at {url} ({exc})"
    prefix = f"swbench{os.getpid()}x{uuid.uuid4().hex[:6]}:"
    rounds, n = (5, 200) if quick else (9, 500)
    try:
        return asyncio.run(_measure(url, prefix, rounds, n, RedisBackend)), None
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        client.close()


async def _measure(
    url: str, prefix: str, rounds: int, n: int, backend_class: Any
) -> dict[str, Any]:
    from sessionware.records import Create, Patch, Record

    now = time.time()
    data = {"user": '"alice"', "n": "0", "csrf": '"x5Yk2r0bcd1f"'}
    rec = Record(uuid.uuid4().hex, uuid.uuid4().hex, now, now, now + 1800, now + 43200,
                 "user-42", now, data=data, info={"ip": "203.0.113.9"})  # fmt: skip
    backend = backend_class(url, prefix=prefix + "sw:")
    cached = backend_class(url, prefix=prefix + "sw:", client_cache=True)
    backend.apply([Create(rec)], now)
    client = backend._async_client()  # the same client for the bare commands
    fields = await client.hgetall(backend.layout.session(rec.key))
    blob = "".join(k + v for k, v in fields.items())
    await client.set(prefix + "blob", blob)
    patch = [Patch(rec.key, set={"n": "1"}, meta={"last_active": now, "expires_at": now + 1800})]
    await cached.aload(rec.key, now)
    tracker = cached.client_cache
    while not tracker.healthy:
        await asyncio.sleep(0.01)
    await cached.aload(rec.key, now)

    cases = {
        "bare GET": lambda: client.get(prefix + "blob"),
        "aload": lambda: backend.aload(rec.key, now),
        "bare SET": lambda: client.set(prefix + "blob2", blob),
        "aapply patch": lambda: backend.aapply(patch, now),
        "aload cached": lambda: cached.aload(rec.key, now),
    }
    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for name, call in cases.items():
            if name == "aload cached":
                await cached.aload(rec.key, now)  # the patch above dropped it
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                await call()
            cpus[name].append((time.process_time() - cpu) / n * 1e6)
            walls[name].append((time.perf_counter() - wall) / n * 1e6)
    out: dict[str, Any] = {}
    for name in cases:
        key = name.replace(" ", "_")
        out[f"{key}_us"] = statistics.median(walls[name])
        out[f"{key}_cpu_us"] = statistics.median(cpus[name])
    out["read_client_cost_us"] = out["aload_cpu_us"] - out["bare_GET_cpu_us"]
    out.update(await _delay(cached, rec.key, now, url, 50 if rounds < 9 else 200))
    await backend.aclose()
    await cached.aclose()
    backend.close()
    cached.close()
    return out


async def _delay(cached: Any, key: str, now: float, url: str, samples: int) -> dict[str, float]:
    """How long after a change by another client the cache has dropped the entry."""
    import redis

    other = redis.Redis.from_url(url)
    name = cached.layout.session(key)
    tracker = cached.client_cache
    after_reply: list[float] = []
    after_send: list[float] = []
    for i in range(samples):
        await cached.aload(key, now)
        while len(tracker) == 0:  # our own read may race the previous invalidation
            await cached.aload(key, now)
        seen = tracker.received
        sent = time.perf_counter()
        other.hset(name, "d:n", str(i))
        replied = time.perf_counter()
        while tracker.received == seen:
            time.sleep(0)
        done = time.perf_counter()
        after_reply.append((done - replied) * 1e6)
        after_send.append((done - sent) * 1e6)
    other.close()
    after_reply.sort()
    after_send.sort()
    p90 = int(len(after_reply) * 0.9)
    return {
        "invalidation_after_reply_us": statistics.median(after_reply),
        "invalidation_after_reply_p90_us": after_reply[p90],
        "invalidation_after_send_us": statistics.median(after_send),
    }


def _overhead(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = results.get("inprocess", {}).get(protocol, {}).get(name, {}).get(case)
    return None if cell is None else float(cell["overhead_us"])


def _vs_peer(results: dict[str, Any], protocol: str, ours: str, peer: str) -> Target:
    target = Target(
        f"{protocol}-redis-16",
        f"{protocol.upper()} {ours}: read overhead <= 0.5 x, write <= 0.9 x {peer}'s (#16)",
    )
    parts, met = [], []
    for case, limit in (("read", 0.5), ("write", 0.9)):
        mine, theirs = (_overhead(results, protocol, ours, case),
                        _overhead(results, protocol, peer, case))  # fmt: skip
        if mine is None or theirs is None or theirs <= 0:
            return target
        parts.append(f"{case}: {mine:.0f} / {theirs:.0f} us = {mine / theirs:.2f} (<= {limit})")
        met.append(mine / theirs <= limit)
    target.measured, target.met = "; ".join(parts), all(met)
    return target


def _over_floor(results: dict[str, Any], protocol: str, ours: str, floor: str) -> Target:
    target = Target(
        f"{protocol}-redis-floor",
        f"{protocol.upper()} {ours} read: whole request within 25 us of {floor} (bare GET)",
    )
    mine = _overhead(results, protocol, ours, "read")
    bare = _overhead(results, protocol, floor, "read")
    if mine is not None and bare is not None:
        write, bare_write = (_overhead(results, protocol, ours, "write"),
                             _overhead(results, protocol, floor, "write"))  # fmt: skip
        target.measured = f"read {mine - bare:+.0f} us over {floor}"
        if write is not None and bare_write is not None:
            target.measured += f"; write {write - bare_write:+.0f} us over {floor} (GET + SET)"
        target.met = mine - bare <= 25
    return target


def _client_cost(results: dict[str, Any]) -> Target:
    target = Target("redis-read-client", "Redis read: client CPU within 25 us of a bare GET")
    data = results.get("stores")
    if data:
        target.measured = (
            f"aload {data['aload_cpu_us']:.0f} us CPU vs GET of the same bytes"
            f" {data['bare_GET_cpu_us']:.0f} us = {data['read_client_cost_us']:+.0f} us;"
            f" cached aload {data['aload_cached_cpu_us']:.0f} us; invalidation delivered"
            f" {data['invalidation_after_reply_us']:.0f} us after the change's reply"
            f" (p90 {data['invalidation_after_reply_p90_us']:.0f})"
        )
        target.met = data["read_client_cost_us"] <= 25
    return target


CHECKS = (
    lambda r: _vs_peer(r, "asgi", "sessionware-redis", "starsessions-redis"),
    lambda r: _vs_peer(r, "wsgi", "sessionware-wsgi-redis", "flask-session-redis"),
    lambda r: _over_floor(r, "asgi", "sessionware-redis", "redis-bare"),
    lambda r: _over_floor(r, "wsgi", "sessionware-wsgi-redis", "flask-redis-bare"),
    _client_cost,
)
