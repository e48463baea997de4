"""SQLBackend under concurrent writers: separate processes, separate pools, racing threads."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionware.backends.sql import SQLBackend
from sessionware.records import Create, Patch

from .conformance import make_record
from .sql_support import Store, store_fixture, write_keys

KEYS_PER_WRITER = 25


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    yield from store_fixture(request, tmp_path)


def race(count: int, body: Any, hold: Any = None) -> list[Any]:
    """Run ``body(i)`` in ``count`` threads released together; their results in order.

    With ``hold`` (a context manager holding a lock the bodies need), the
    threads start while it is held and queue up behind it, so every one of
    them is in flight at the same moment when it is released.
    """
    barrier = threading.Barrier(count + 1)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = body(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    with hold if hold is not None else contextlib.nullcontext():
        for thread in threads:
            thread.start()
        barrier.wait(timeout=30)
        if hold is not None:
            time.sleep(0.3)  # let every thread reach the lock; correctness does not depend on it
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_two_processes_writing_one_session_lose_nothing(store: Store) -> None:
    """Two processes patching distinct keys of one session at once keep all of them (CC-01)."""
    backend, now = store.backend(), time.time()
    rec = make_record(now, data={"base": "0"})
    backend.apply([Create(rec)], now)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [
        ctx.Process(
            target=write_keys,
            args=(store.url, store.table, rec.key, prefix, KEYS_PER_WRITER, barrier),
        )
        for prefix in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    got = backend.load(rec.key, time.time())
    assert got is not None
    expected = {"base": "0"}
    expected.update({f"{p}{i}": str(i) for p in "ab" for i in range(KEYS_PER_WRITER)})
    assert got.data == expected


def test_two_async_pools_writing_one_session_lose_nothing(store: Store) -> None:
    """Two backends with their own async engines, interleaving patches, keep every key."""
    first, second = store.backend(), store.backend()
    now = time.time()
    rec = make_record(now)
    first.apply([Create(rec)], now)

    async def writer(backend: Any, prefix: str) -> None:
        for i in range(KEYS_PER_WRITER):
            assert (await backend.aapply([Patch(rec.key, set={f"{prefix}{i}": "1"})], now)).ok

    async def main() -> None:
        try:
            await asyncio.gather(writer(first, "x"), writer(second, "y"))
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(main())
    got = first.load(rec.key, now)
    assert got is not None and len(got.data) == 2 * KEYS_PER_WRITER


def test_concurrent_compare_and_set_has_exactly_one_winner(store: Store) -> None:
    """Ten threads presenting the same expected value: one patch applies, nine are refused."""
    backend, now = store.backend(), time.time()
    rec = make_record(now, extra={"rt": "old", "gen": 1})
    backend.apply([Create(rec)], now)

    def rotate(i: int) -> bool:
        patch = Patch(rec.key, extra={"rt": f"new-{i}", "gen": 2}, expect={"rt": "old"})
        return backend.apply([patch], now).ok

    results = race(10, rotate, hold=store.holding(rec.key))
    assert results.count(True) == 1
    got = backend.load(rec.key, now)
    assert got is not None and got.extra["rt"] == f"new-{results.index(True)}"


def test_concurrent_logins_respect_max_sessions_per_user(store: Store) -> None:
    """Logins racing on separate pools still leave at most max_per_user sessions (TM-06)."""
    backends = [store.backend() for _ in range(2)]
    now = time.time()
    records = [make_record(now + i / 1000, user="zoe") for i in range(8)]

    def login(i: int) -> tuple[str, ...]:
        return backends[i % 2].apply([Create(records[i], max_per_user=3)], now + 1).evicted

    evicted = race(len(records), login)
    live = backends[0].by_user("zoe", now + 1)
    assert len(live) == 3
    handles = [h for batch in evicted for h in batch]
    assert len(handles) == len(set(handles)) == 5
    assert {r.handle for r in live}.isdisjoint(handles)


def test_many_engines_opening_a_fresh_sqlite_file_at_once(tmp_path: Path) -> None:
    """Eight engines racing to open (and switch to WAL) a new SQLite file all succeed."""
    for round_ in range(25):
        url = f"sqlite:///{tmp_path}/fresh-{round_}.db"
        backends = [SQLBackend(url) for _ in range(8)]
        now = time.time()
        records = [make_record(now) for _ in backends]
        try:
            race(len(backends), lambda i: backends[i].apply([Create(records[i])], now))
            assert all(backends[0].load(r.key, now) is not None for r in records)
        finally:
            for backend in backends:
                backend.close()
