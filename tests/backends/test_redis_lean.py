"""Redis at one round trip, lean: what each read and write sends, and 0.1's keys still read."""

from __future__ import annotations

import time

import pytest
import redis

from sessionware.backends import RedisBackend
from sessionware.records import Create, Patch, Touch

from .conformance import make_record
from .conftest import RedisProcess

pytestmark = pytest.mark.redis

TOUCH = Touch(after=60, idle=600, remember_idle=6000)


def calls(client: redis.Redis) -> dict[str, int]:
    """Commands Redis ran since the last reset, scripts' own calls included (commandstats)."""
    stats = client.info("commandstats")
    return {
        n[len("cmdstat_") :]: int(v["calls"])
        for n, v in stats.items()
        if n not in ("cmdstat_info", "cmdstat_config|resetstat")
    }


@pytest.fixture
def server(private_redis: RedisProcess) -> redis.Redis:
    return redis.Redis.from_url(private_redis.url, decode_responses=True)


def test_a_read_whose_touch_cannot_be_due_is_a_plain_hgetall(
    private_redis: RedisProcess, server: redis.Redis
) -> None:
    """Once a session was read, reads within Touch.after send HGETALL, not the touch script."""
    backend = RedisBackend(private_redis.url)
    now = time.time()
    rec = make_record(now, ttl=600)
    backend.apply([Create(rec)], now)
    backend.load(rec.key, now, TOUCH)
    server.config_resetstat()
    for step in range(5):
        got = backend.load(rec.key, now + step, TOUCH)
        assert got is not None and got.key == rec.key
    assert calls(server) == {"hgetall": 5}
    backend.close()


def test_a_due_touch_still_slides_in_one_script_call(
    private_redis: RedisProcess, server: redis.Redis
) -> None:
    """After Touch.after seconds the read is the touch script again, and it slides the expiry."""
    backend = RedisBackend(private_redis.url)
    now = time.time()
    rec = make_record(now, ttl=600)
    backend.apply([Create(rec)], now)
    backend.load(rec.key, now, TOUCH)
    server.config_resetstat()
    later = now + 61
    got = backend.load(rec.key, later, TOUCH)
    assert got is not None and got.last_active == pytest.approx(later, abs=1e-3)
    assert got.expires_at == pytest.approx(later + 600, abs=1e-3)
    ran = calls(server)  # commands a script runs are counted too
    assert ran["evalsha"] == 1 and ran["hset"] == 1 and ran["hgetall"] == 1
    backend.close()


def test_a_touch_by_another_server_never_hides_a_due_touch(private_redis: RedisProcess) -> None:
    """Another process sliding the session only makes ours look less due, never more."""
    ours, theirs = RedisBackend(private_redis.url), RedisBackend(private_redis.url)
    now = time.time()
    rec = make_record(now, ttl=600)
    ours.apply([Create(rec)], now)
    ours.load(rec.key, now, TOUCH)
    slid = theirs.load(rec.key, now + 61, TOUCH)
    assert slid is not None and slid.last_active == pytest.approx(now + 61, abs=1e-3)
    got = ours.load(rec.key, now + 62, TOUCH)  # not due any more: theirs touched it
    assert got is not None and got.last_active == pytest.approx(now + 61, abs=1e-3)
    got = ours.load(rec.key, now + 125, TOUCH)
    assert got is not None and got.last_active == pytest.approx(now + 125, abs=1e-3)
    ours.close()
    theirs.close()


def test_a_data_patch_commit_is_one_command(
    private_redis: RedisProcess, server: redis.Redis
) -> None:
    """A write request's commit is one EVALSHA, and a data patch writes only the session hash."""
    backend = RedisBackend(private_redis.url)
    now = time.time()
    rec = make_record(now, user="ann", ttl=600)
    backend.apply([Create(rec)], now)
    backend.apply([Patch(rec.key, set={"n": "1"}, meta={"last_active": now})], now)  # script
    server.config_resetstat()
    op = Patch(rec.key, set={"n": "2"}, meta={"last_active": now + 1, "expires_at": now + 601})
    assert backend.apply([op], now + 1).ok
    ran = calls(server)
    assert ran.pop("evalsha") == 1
    assert not any(name.startswith("z") for name in ran)  # no user-index bookkeeping
    got = backend.load(rec.key, now + 2)
    assert got is not None and got.data["n"] == "2"
    backend.close()


def test_sessions_stored_by_0_1_still_load_patch_and_slide(
    private_redis: RedisProcess, server: redis.Redis
) -> None:
    """A session hash, handle key and user index written in 0.1's layout keep working."""
    now = time.time()
    key, handle = "k-from-0.1", "h-from-0.1"
    server.hset(
        "sw:s:" + key,
        mapping={"_h": handle, "_c": repr(now - 100), "_l": repr(now - 100),
                 "_e": repr(now + 500), "_a": repr(now + 40000), "_r": "0", "_u": "old-user",
                 "d:cart": "[1,2]", "i:ip": "203.0.113.9", "x:gen": "3"},
    )  # fmt: skip
    server.pexpireat("sw:s:" + key, int((now + 500) * 1000) + 1)
    server.set("sw:h:" + handle, key)
    server.zadd("sw:u:old-user", {key: now + 40000})
    backend = RedisBackend(private_redis.url)
    got = backend.load(key, now, TOUCH)  # due: 100 s since last active
    assert got is not None and got.data == {"cart": "[1,2]"} and got.extra == {"gen": 3}
    assert got.last_active == pytest.approx(now, abs=1e-3)
    assert backend.apply([Patch(key, set={"cart": "[1,2,3]"}, meta={"last_active": now})], now).ok
    again = backend.load(key, now + 1, TOUCH)
    assert again is not None and again.data == {"cart": "[1,2,3]"}
    assert [r.key for r in backend.by_user("old-user", now)] == [key]
    via_handle = backend.load_handle(handle, now)
    assert via_handle is not None and via_handle.key == key
    backend.close()
