"""Tombstones expire by themselves in the store, not only by the ``until`` check (#17)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from sessionware.backends import RedisBackend
from sessionware.records import Create, Delete, companion, ended

from .conformance import make_record
from .conftest import delete_prefix
from .sql_support import Store, store_fixture

WEEK = 7 * 24 * 3600.0


@pytest.fixture
def backend(redis_url: str) -> Iterator[tuple[RedisBackend, redis.Redis, str]]:
    prefix = f"swtest:{uuid.uuid4().hex}:"
    store = RedisBackend(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield store, client, prefix
    store.close()
    delete_prefix(client, prefix)
    client.close()


@pytest.mark.redis
def test_redis_tombstone_keys_expire_at_until(
    backend: tuple[RedisBackend, redis.Redis, str],
) -> None:
    """Every tombstone key and the user's tombstone index carry a TTL at their deadline."""
    store, client, prefix = backend
    now = time.time()
    kept = make_record(now, user="tia")
    gone = make_record(now, user="tia")
    store.apply([Create(kept, keep_for=WEEK), Create(gone, keep_for=WEEK)], now)
    tomb = ended(gone, "logout", now, 3600.0)
    store.apply([Delete(gone.key, tomb)], now)
    layout = store.layout
    expire = {
        k: client.execute_command("PEXPIRETIME", k)
        for k in client.scan_iter(match=prefix + "t*")
    }
    assert expire[layout.tomb(gone.key)] == pytest.approx(tomb.until * 1000, abs=2)
    until = companion(kept, WEEK).until
    assert expire[layout.tomb(kept.key)] == pytest.approx(until * 1000, abs=2)
    assert expire[layout.user_tombs("tia")] == pytest.approx(until * 1000, abs=2)
    assert all(v > 0 for v in expire.values())


STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    yield from store_fixture(request, tmp_path)


def test_sql_sweep_deletes_tombstone_rows_past_until(store: Store) -> None:
    """purge_expired removes tombstone rows whose time is up, and keeps the others."""
    backend = store.backend()
    now = time.time()
    short, long = make_record(now, user="sam"), make_record(now, user="sam")
    backend.apply([Create(short), Create(long)], now)
    backend.apply(
        [Delete(short.key, ended(short, "logout", now, 60.0)),
         Delete(long.key, ended(long, "logout", now, 6000.0))],
        now,
    )  # fmt: skip
    endings = backend.tables.endings
    assert endings is not None

    def rows() -> set[str]:
        with backend.engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.select(endings.c.key))}

    assert rows() == {short.key, long.key}
    backend.purge_expired(now + 120)
    assert rows() == {long.key}
