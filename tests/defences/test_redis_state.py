"""A Redis-backed guard state: every app server counts bad events and blocks together."""

from __future__ import annotations

import logging
import os
import uuid

import pytest

from sessionware.config import GuardConfig
from sessionware.defences.counters import RedisGuardState
from tests.ci import in_ci

from .conftest import forged

redis = pytest.importorskip("redis")
URL = os.environ.get("SESSIONWARE_REDIS_URL", "redis://127.0.0.1:6379/0")


class Counted(RedisGuardState):
    """The real Redis state, counting round trips."""

    calls = 0

    def hit(self, *args):
        self.calls += 1
        return super().hit(*args)

    async def ahit(self, *args):
        self.calls += 1
        return await super().ahit(*args)


@pytest.fixture
def state():
    prefix = f"sessionware-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        if in_ci():
            pytest.fail(f"Redis at {URL} is required in CI: {exc}")
        pytest.skip(f"NO REDIS at {URL} ({exc}): the shared guard state is untested here")
    shared = Counted(URL, prefix=prefix)
    yield shared
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    shared.close()
    client.close()


def test_two_servers_share_one_count(make, state) -> None:
    """10 bad requests on server A and 11 on server B block the client on both."""
    guard = GuardConfig(shared=state)
    a, b = make("asgi", guard=guard), make("wsgi", guard=guard)
    b.clock.now = a.clock.now
    for _ in range(10):
        a.request("/", cookie=forged(), client="198.51.100.7")
    for _ in range(11):
        b.request("/", cookie=forged(), client="198.51.100.7")
    assert b.request("/", cookie=forged(), client="198.51.100.7").status == 429
    assert b.request("/", client="198.51.100.7").status == 200  # no credential: never refused
    assert b.kinds().count("brute_force") == 1
    # Server A learns of the block at the client's next bad request there.
    assert a.request("/", cookie=forged(), client="198.51.100.7").status == 429
    assert "brute_force" not in a.kinds()  # one alarm per block, from the server that began it
    assert a.request("/", client="203.0.113.9").status == 200
    a.loop.run_until_complete(state.aclose())


def test_good_requests_make_no_round_trip(make, state) -> None:
    """Logins, reads and writes never call Redis; each bad event calls it once."""
    h = make("asgi", guard=GuardConfig(shared=state))
    cookie = h.request("/login").cookie()
    for _ in range(50):
        h.request("/write", cookie=cookie)
        h.request("/")
    assert state.calls == 0
    h.request("/", cookie=forged())
    assert state.calls == 1
    h.loop.run_until_complete(state.aclose())


def test_unreachable_redis_falls_back_to_local_counting(make, caplog) -> None:
    """With Redis down the guard still blocks (locally) and warns once, never failing a request."""
    down = RedisGuardState("redis://127.0.0.1:1/0", timeout=0.1)
    h = make("wsgi", guard=GuardConfig(shared=down, bad_limit=3))
    with caplog.at_level(logging.WARNING, logger="sessionware"):
        for _ in range(4):
            h.request("/", cookie=forged(), client="198.51.100.7")
    assert h.request("/", cookie=forged(), client="198.51.100.7").status == 429
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1
    down.close()


def test_counter_keys_expire_by_themselves(make, state) -> None:
    """Each Redis key carries a TTL, so the shared state is bounded by time."""
    h = make("asgi", guard=GuardConfig(shared=state, bad_limit=2, block_for=30))
    for _ in range(3):
        h.request("/", cookie=forged(), client="2001:db8:5:6::1")
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=state.prefix + "*"))
    assert keys
    assert all(0 < client.pttl(k) <= 30_000 for k in keys)
    client.close()
    h.loop.run_until_complete(state.aclose())
