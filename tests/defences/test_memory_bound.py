"""Bounded guard state (AN-06): address-cycling floods recycle slots, they do not grow memory."""

from __future__ import annotations

import tracemalloc

import pytest

from sessionware.config import GuardConfig
from sessionware.defences.guard import Guard
from sessionware.events import Event
from sessionware.testing import FakeClock

from .conftest import forged

#: The stated bound for the default ``max_clients=100_000``: all guard state under 32 MiB.
BOUND = 32 * 2**20


def spoofed(i: int) -> str:
    """The i-th spoofed source, each in its own IPv6 /64."""
    return f"2001:db8:{i >> 16:x}:{i & 0xFFFF:x}::1"


@pytest.mark.slow
def test_a_million_spoofed_ipv6_sources_stay_under_the_bound() -> None:
    """1,000,000 /64s sending one bad cookie each: tables stay capped and under 32 MiB."""
    clock = FakeClock()
    guard = Guard(GuardConfig(), clock)
    for i in range(1_000_000):
        guard.observe((Event("bad_signature", spoofed(i)),))
        if i % 1000 == 0:
            clock.advance(0.001)
    assert len(guard._clients) == 100_000
    assert guard.blocked() == 0
    # Everything alive now was allocated while tracing: 120,000 more sources replace
    # every entry, so the traced size is the whole steady state of the guard.
    tracemalloc.start()
    try:
        for i in range(1_000_000, 1_120_000):
            guard.observe((Event("bad_signature", spoofed(i)),))
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert guard.entries() == 100_000
    assert current < BOUND, f"guard state {current / 2**20:.1f} MiB"


def test_small_tables_stay_capped_through_the_middleware(make) -> None:
    """20,000 sources through the real middleware fill at most ``max_clients`` entries."""
    h = make("asgi", guard=GuardConfig(max_clients=2000, global_limit=None))
    for i in range(20_000):
        assert h.request("/", cookie=forged(), client=spoofed(i)).status == 200
    guard = h.mw.shared.guard
    assert guard.entries() == 2000
    for _ in range(21):
        h.request("/", cookie=forged(), client="198.51.100.7")
    assert h.request("/", cookie=forged(), client="198.51.100.7").status == 429


def test_idle_entries_expire_as_new_clients_arrive() -> None:
    """Entries whose counters have drained leave the table without waiting for the cap."""
    clock = FakeClock()
    guard = Guard(GuardConfig(), clock)
    for i in range(100):
        guard.observe((Event("bad_signature", f"10.0.0.{i}"),))
    clock.advance(120)
    for i in range(50):
        guard.observe((Event("bad_signature", f"10.0.1.{i}"),))
    assert len(guard._clients) == 50


def test_ended_blocks_are_swept() -> None:
    """Blocks that ran out leave the table when their client returns or new blocks begin."""
    clock = FakeClock()
    guard = Guard(GuardConfig(bad_limit=1, block_for=10), clock)
    for i in range(5):
        for _ in range(2):
            guard.observe((Event("bad_signature", f"10.0.0.{i}"),))
    assert guard.blocked() == 5
    assert guard.retry_after("10.0.0.1") == 10
    clock.advance(11)
    assert guard.retry_after("10.0.0.1") == 0
    assert guard.entries() - len(guard._clients) == 4  # the others wait for a sweep
    for _ in range(2):
        guard.observe((Event("bad_signature", "10.9.9.9"),))
    assert guard.entries() - len(guard._clients) == 3  # a new block swept two ended ones
    assert guard.blocked() == 1  # counting sweeps everything that ended
