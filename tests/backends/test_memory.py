"""MemoryBackend: the conformance suite plus its memory bounds."""

from __future__ import annotations

import time

import pytest

from sessionware.backends import MemoryBackend
from sessionware.records import Create, Patch

from .conformance import BackendConformance, TouchOnLoadConformance, make_record
from .tombstones import TombstoneConformance


class TestMemoryConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
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
