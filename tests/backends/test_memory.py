"""MemoryBackend: the conformance suite plus its memory bounds."""

from __future__ import annotations

import time

import pytest

from sessionware.backends import MemoryBackend, memory
from sessionware.records import Create, Delete, Patch

from .conformance import BackendConformance, TouchOnLoadConformance, make_record
from .tombstones import TombstoneConformance


class TestMemoryConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()


class TestCompactMemoryConformance(BackendConformance, TouchOnLoadConformance):
    """The same suite with every record stored compactly as soon as it is written."""

    @pytest.fixture
    def backend(self, monkeypatch: pytest.MonkeyPatch) -> MemoryBackend:
        monkeypatch.setattr(memory, "HOT_ENTRIES", 0)
        return MemoryBackend()


def test_max_entries_evicts_closest_to_expiry_first() -> None:
    """At capacity, a new session evicts the record that would expire soonest (RS-04)."""
    now = time.time()
    backend = MemoryBackend(max_entries=3)
    long1, short, long2 = (make_record(now, ttl=t) for t in (900, 60, 800))
    backend.apply([Create(long1), Create(short), Create(long2)], now)
    newcomer = make_record(now, ttl=500)
    backend.apply([Create(newcomer)], now)
    assert len(backend) == 3
    assert backend.load(short.key, now) is None
    assert backend.load(newcomer.key, now) is not None


def test_touch_moves_a_record_away_from_eviction() -> None:
    """A record whose deadline was extended is not evicted by its stale heap entry."""
    now = time.time()
    backend = MemoryBackend(max_entries=2)
    a, b = make_record(now, ttl=60), make_record(now, ttl=300)
    backend.apply([Create(a), Create(b)], now)
    backend.apply([Patch(a.key, meta={"expires_at": now + 1000})], now)
    backend.apply([Create(make_record(now, ttl=500))], now)
    assert backend.load(a.key, now) is not None
    assert backend.load(b.key, now) is None


def test_expired_records_are_swept_by_later_writes() -> None:
    """Expired records leave memory through amortized sweeping on writes, no full scan needed."""
    now = time.time()
    backend = MemoryBackend()
    backend.apply([Create(make_record(now - 100, ttl=10)) for _ in range(20)], now - 100)
    backend.apply([Create(make_record(now))], now)
    assert len(backend._records) == 1
    assert backend._users == {} and len(backend._handles) == 1


def test_sweep_reports_removed_count() -> None:
    """sweep(now) removes all expired records and says how many."""
    now = time.time()
    backend = MemoryBackend()
    backend.apply([Create(make_record(now, ttl=5)) for _ in range(100)], now)
    assert backend.sweep(now + 6) == 100


def test_compact_storage_reads_back_every_field_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records stored compactly come back equal to what was written, through every path."""
    monkeypatch.setattr(memory, "HOT_ENTRIES", 1)  # every record but the newest is compact
    now = time.time()
    backend = MemoryBackend()
    record = make_record(
        now,
        user="ada",
        auth_time=now - 5,
        remember=True,
        data={"cart": "[1,2]", "é": '"ü"'},
        info={"ip": "203.0.113.9", "agent": "Firefox on Linux", "fp": "ab12"},
        extra={"rt": "hash", "gen": 3},
    )
    backend.apply([Create(record), Create(make_record(now))], now)
    assert backend.by_user("ada", now) == [record]
    backend.apply([Create(make_record(now))], now)
    assert backend.load(record.key, now) == record
    backend.apply([Create(make_record(now))], now)
    assert backend.load_handle(record.handle, now) == record
    backend.apply([Create(make_record(now))], now)
    backend.apply([Patch(record.key, set={"n": "1"}, delete=("cart",), extra={"gen": 4})], now)
    backend.apply([Create(make_record(now))], now)
    patched = backend.load(record.key, now)
    assert patched is not None
    assert patched.data == {"é": '"ü"', "n": "1"}
    assert patched.extra == {"rt": "hash", "gen": 4} and patched.info == record.info


def test_compact_records_expire_and_are_evicted_like_whole_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Expiry, sweeping, capacity eviction and deletes see compact records exactly as whole ones."""
    monkeypatch.setattr(memory, "HOT_ENTRIES", 1)
    now = time.time()
    backend = MemoryBackend(max_entries=3)
    short, long1, long2 = (make_record(now, ttl=t) for t in (60, 900, 800))
    backend.apply([Create(short), Create(long1), Create(long2)], now)
    assert backend.load(short.key, now + 61) is None
    backend.apply([Create(make_record(now, ttl=500))], now)
    assert backend.load(short.key, now) is None
    assert backend.load(long1.key, now) == long1
    backend.apply([Delete(long1.key)], now)
    assert backend.load(long1.key, now) is None
    assert backend.sweep(now + 10_000) == 2 and len(backend._records) == 0


def test_a_record_read_before_a_write_is_not_served_stale() -> None:
    """A record read, then patched or deleted, is read back as it is now."""
    now = time.time()
    backend = MemoryBackend()
    record = make_record(now, data={"n": "1"})
    backend.apply([Create(record)], now)
    assert backend.load(record.key, now) == record
    backend.apply([Patch(record.key, set={"n": "2"})], now)
    loaded = backend.load(record.key, now)
    assert loaded is not None and loaded.data == {"n": "2"}
    backend.apply([Delete(record.key)], now)
    assert backend.load(record.key, now) is None


def test_under_pressure_anonymous_sessions_go_first() -> None:
    """At capacity a newcomer evicts anonymous sessions only, even long-lived ones (#13)."""
    now = time.time()
    backend = MemoryBackend(max_entries=3)
    alice = make_record(now, ttl=10, user="alice")  # closest to expiry, but signed in
    bob = make_record(now, ttl=20, user="bob")
    anon = make_record(now, ttl=900)
    backend.apply([Create(alice), Create(bob), Create(anon)], now)
    backend.apply([Create(make_record(now, ttl=500))], now)
    assert backend.load(anon.key, now) is None
    assert backend.load(alice.key, now) is not None and backend.load(bob.key, now) is not None


def test_only_signed_in_left_refuses_a_new_session() -> None:
    """When only signed-in sessions remain, a new one is refused (StoreFull), nobody evicted."""
    from sessionware.errors import BackendUnavailable, StoreFull

    now = time.time()
    backend = MemoryBackend(max_entries=2)
    users = [make_record(now, ttl=10, user=f"u{i}") for i in range(2)]
    backend.apply([Create(r) for r in users], now)
    with pytest.raises(StoreFull) as caught:
        backend.apply([Create(make_record(now))], now)
    assert isinstance(caught.value, BackendUnavailable)  # adapters answer it 503
    assert all(backend.load(r.key, now) is not None for r in users)
