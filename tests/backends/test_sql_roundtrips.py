"""PostgreSQL at one round trip per read: no pre-ping, no transaction, touch inside the read.

Round trips are counted from libpq's protocol trace, switched on by the
benchmarks' own counter, so ``BEGIN``, ``COMMIT`` and a pool pre-ping would
all show.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg import pq

from benchmarks.roundtrips import count_postgres
from sessionware.backends.sql import SQLBackend
from sessionware.records import Create, Patch, Touch

from .conformance import make_record
from .sql_support import Store, postgres_url

pytestmark = pytest.mark.postgres

TOUCH = Touch(after=60, idle=600, remember_idle=6000)


@pytest.fixture
def named() -> Iterator[tuple[Store, str]]:
    """A PostgreSQL store whose connections carry a unique application_name."""
    name = f"sw-rt-{uuid.uuid4().hex[:8]}"
    url = sa.make_url(postgres_url()).update_query_dict({"application_name": name})
    store = Store(url.render_as_string(hide_password=False), f"sw_test_{uuid.uuid4().hex[:12]}")
    yield store, name
    store.teardown()


def trips(backend: SQLBackend, call: Any) -> int:
    """Requests the second of two ``call()`` sends to PostgreSQL (each simple ``Query`` and
    each ``Sync`` ends one round trip; counted on the client's side of libpq's trace).

    The first call gets its connections traced from their checkout on, so the
    second one's checkout (and a pre-ping, if any) is traced too.
    """
    with count_postgres(backend) as counter:
        call()
        marks = {}
        for pgconn, path in counter.traced.values():
            pgconn.untrace()  # flushes the trace file
            marks[path] = os.path.getsize(path)
            pgconn.trace(os.open(path, os.O_WRONLY | os.O_APPEND))
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        call()
        total = 0
        for pgconn, path in counter.traced.values():
            pgconn.untrace()
            with open(path) as trace:
                trace.seek(marks.get(path, 0))
                for line in trace:
                    fields = line.rstrip("\n").split("\t", 3)
                    sent = len(fields) >= 3 and fields[0] == "F"
                    total += sent and fields[2] in ("Query", "Sync")
    return total


def test_a_read_and_a_sliding_read_are_one_round_trip_each(named: tuple[Store, str]) -> None:
    """load, and load with a due Touch that slides the expiry, each cost one round trip."""
    store, _ = named
    backend, now = store.backend(), time.time()
    fresh = make_record(now, data={"a": "1"})
    due = [make_record(now - 100, data={"b": str(i)}) for i in range(4)]
    backend.apply([Create(r) for r in (fresh, *due)], now)
    pending = iter(due)
    got: list[Any] = []

    def slide() -> None:
        got.append(backend.load(next(pending).key, now, TOUCH))

    loop = asyncio.new_event_loop()

    def aslide() -> None:
        got.append(loop.run_until_complete(backend.aload(next(pending).key, now, TOUCH)))

    try:
        assert trips(backend, lambda: backend.load(fresh.key, now)) == 1
        assert trips(backend, lambda: loop.run_until_complete(backend.aload(fresh.key, now))) == 1
        assert trips(backend, slide) == 1
        assert trips(backend, aslide) == 1
        for i, record in enumerate(got):
            assert record is not None and record.data == {"b": str(i)}
            assert record.last_active == pytest.approx(now, abs=1e-3)
            stored = backend.load(record.key, now + 1)
            assert stored is not None and stored.expires_at == pytest.approx(now + 600, abs=1e-3)
        loop.run_until_complete(backend.aclose())
    finally:
        loop.close()


def _kill(name: str) -> int:
    killer = sa.create_engine(postgres_url(), poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as conn:
            sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            sql += " WHERE application_name = :name"
            return int(conn.execute(sa.text(sql), {"name": name}).scalar_one())
    finally:
        killer.dispose()


def test_a_dropped_pooled_connection_costs_no_failed_read_or_write(
    named: tuple[Store, str],
) -> None:
    """Without a pre-ping, the server dropping the pool is still invisible: the failed first
    statement is sent again on a fresh connection, once, and a write applies exactly once."""
    store, name = named
    backend, now = store.backend(), time.time()
    rec = make_record(now, data={"n": "0"})
    backend.apply([Create(rec)], now)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(backend.aload(rec.key, now))
        assert _kill(name) >= 2  # the sync and the async pool each held one
        assert backend.load(rec.key, now) is not None
        assert loop.run_until_complete(backend.aload(rec.key, now)) is not None
        assert _kill(name) >= 2
        assert backend.apply([Patch(rec.key, set={"n": "1"})], now).ok
        patch = Patch(rec.key, set={"m": "2"})
        assert loop.run_until_complete(backend.aapply([patch], now)).ok
        got = backend.load(rec.key, now)
        assert got is not None and got.data == {"n": "1", "m": "2"}
        loop.run_until_complete(backend.aclose())
    finally:
        loop.close()


def test_pre_ping_stays_available(named: tuple[Store, str]) -> None:
    """pool_pre_ping=True still adds its checkout ping, for those who want it."""
    store, _ = named
    backend: SQLBackend = store.backend(pool_pre_ping=True)
    now = time.time()
    rec = make_record(now)
    backend.apply([Create(rec)], now)
    backend.load(rec.key, now)
    assert trips(backend, lambda: backend.load(rec.key, now)) == 2
