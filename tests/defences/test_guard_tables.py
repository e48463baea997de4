"""The guard's tables (AN-06) and its shared counter: bounded, least-recent first, agreed keys.

Mutation testing (#18) showed these unpinned: which entry the LRU pushes out,
how much idle work one new client does, where a renewed block sits in the
sweep order, and exactly what the guard asks a shared counter (every app
server must compute the same key and the same limit, or they count apart).
"""

from __future__ import annotations

import asyncio

import pytest

from sessionware.config import GuardConfig
from sessionware.defences.guard import Guard
from sessionware.events import Event
from sessionware.testing import FakeClock

START = 1024.0


def guard(**fields: object) -> tuple[Guard, FakeClock]:
    fields.setdefault("global_limit", None)
    clock = FakeClock(START)
    return Guard(GuardConfig(**fields), clock), clock  # type: ignore[arg-type]


def forge(g: Guard, client: str, times: int = 1) -> list[Event]:
    alarms: list[Event] = []
    for _ in range(times):
        alarms += g.observe((Event("bad_signature", client),))
    return alarms


class Recorder:
    """A shared counter that answers from a script and records what it was asked."""

    def __init__(self, *answers: tuple[float, bool] | None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, float, float, float, float]] = []

    def hit(
        self, key: str, now: float, step: float, burst: float, block_for: float
    ) -> tuple[float, bool] | None:
        self.calls.append(("hit", key, now, step, burst, block_for))
        return self.answers.pop(0)

    async def ahit(
        self, key: str, now: float, step: float, burst: float, block_for: float
    ) -> tuple[float, bool] | None:
        self.calls.append(("ahit", key, now, step, burst, block_for))
        return self.answers.pop(0)


# -- the tables ------------------------------------------------------------------------


def test_an_active_client_is_kept_and_the_least_recent_pushed_out() -> None:
    """With a full table a newcomer evicts the client heard from least recently."""
    g, _ = guard(bad_limit=2, max_clients=2)
    forge(g, "10.0.0.1")
    forge(g, "10.0.0.2")
    forge(g, "10.0.0.1")  # .1 is now the most recent
    forge(g, "10.0.0.3")  # pushes out .2
    assert g.entries() == 2
    assert len(forge(g, "10.0.0.1")) == 1  # its count survived: third forgery blocks
    assert forge(g, "10.0.0.2", 2) == []  # its count was forgotten


def test_the_client_table_is_capped_exactly() -> None:
    """``max_clients`` busy clients fill the table; one more never grows it."""
    g, _ = guard(max_clients=3)
    for i in range(3):
        forge(g, f"10.0.0.{i}")
    assert g.entries() == 3
    forge(g, "10.0.0.9")
    assert g.entries() == 3


def test_the_newest_forger_is_counted_even_when_the_table_is_full() -> None:
    """A full table never stops the newest client's count (it pushes out the oldest)."""
    g, _ = guard(bad_limit=2, max_clients=2)
    forge(g, "10.0.0.1")
    forge(g, "10.0.0.2")
    assert forge(g, "10.0.0.3", 2) == []
    assert len(forge(g, "10.0.0.3")) == 1


def test_each_newcomer_removes_at_most_two_idle_entries() -> None:
    """Drained entries leave two per new client: bounded work, yet twice the arrival rate."""
    g, clock = guard()
    for i in range(10):
        forge(g, f"10.0.0.{i}")
    clock.advance(60)
    for i in range(3):
        forge(g, f"10.0.1.{i}")
    assert g.entries() == 10 - 6 + 3


def test_idle_entries_leave_from_the_old_end_only() -> None:
    """Pushing out a drained entry never takes a busy client's count with it."""
    g, clock = guard(bad_limit=2)
    for i in range(3):
        forge(g, f"10.0.0.{i}")
    clock.advance(60)  # all three have drained
    forge(g, "10.0.1.1", 2)  # a busy client, at its limit, behind one drained entry
    forge(g, "10.0.1.2")  # a newcomer: only the drained entry in front may leave
    assert g.entries() == 2
    assert len(forge(g, "10.0.1.1")) == 1


def test_a_blocked_clients_counter_is_idle_at_once() -> None:
    """A block takes over from the count, so the counter may leave as the next client comes."""
    g, _ = guard(bad_limit=1)
    forge(g, "10.0.0.1", 2)
    assert g.entries() == 2  # its counter and its block
    forge(g, "10.0.0.2")
    assert g.entries() == 2  # .1's counter left, its block stays
    assert g.retry_after("10.0.0.1") == 300


def test_the_block_table_is_capped_and_drops_the_oldest_block() -> None:
    """Past ``max_clients`` blocks the oldest goes; the newest is always kept."""
    g, _ = guard(bad_limit=1, block_for=30, max_clients=2)
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert len(forge(g, client, 2)) == 1
    assert g.blocked() == 2
    assert g.retry_after("10.0.0.1") == 0
    assert g.retry_after("10.0.0.2") == 30
    assert g.retry_after("10.0.0.3") == 30


def test_a_block_that_ends_now_is_swept() -> None:
    """At the exact end of a block it no longer counts as blocked."""
    g, clock = guard(bad_limit=1, block_for=30)
    forge(g, "10.0.0.1", 2)
    clock.advance(30)
    assert g.blocked() == 0


def test_counting_blocked_clients_sweeps_every_ended_block() -> None:
    """``blocked()`` (the gauge) sweeps all ended blocks, not a budget of them."""
    g, clock = guard(bad_limit=1, block_for=30)
    for i in range(5):
        forge(g, f"10.0.0.{i}", 2)
    clock.advance(31)
    assert g.blocked() == 0


def test_a_renewed_block_moves_to_the_end_of_the_sweep_order() -> None:
    """A client blocked again sits behind older blocks, so those still get swept."""
    g, clock = guard(bad_limit=1, block_for=30)
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.9", "10.0.0.4"):
        forge(g, client, 2)
    clock.advance(30)  # every block ends now
    assert len(forge(g, "10.0.0.9", 2)) == 1  # blocked again; sweeps .1 and .2
    assert g.blocked() == 1  # .4 ended too: only .9 is left


# -- the shared counter ------------------------------------------------------------------


def test_the_shared_counter_is_asked_with_the_agreed_key_and_limit() -> None:
    """Every server sends the same key and GCRA numbers, so they count together."""
    shared = Recorder((0.0, False), (0.0, False), (0.0, False))
    g, _ = guard(bad_limit=4, bad_window=60, block_for=30, shared=shared)
    assert forge(g, "198.51.100.7") == []
    forge(g, "2001:db8:1:2::5")
    forge(g, "2001:db8:1:2:ffff::9")  # the same /64: the same key
    keys = [call[1] for call in shared.calls]
    assert keys == ["198.51.100.7", "v6:20010db800010002", "v6:20010db800010002"]
    name, _key, now, step, burst, block_for = shared.calls[0]
    assert (name, now, step, block_for) == ("hit", START, 15.0, 30.0)
    assert burst == pytest.approx(60.0, abs=1e-3) and burst > 60.0
    assert g.retry_after("198.51.100.7") == 0


def test_a_block_the_shared_counter_starts_is_kept_locally_with_an_alarm() -> None:
    """``(seconds, True)`` from the counter blocks here and raises ``brute_force``."""
    g, _ = guard(bad_limit=4, shared=Recorder((12.5, True)))
    (alarm,) = forge(g, "198.51.100.7")
    assert (alarm.kind, alarm.client, alarm.detail["last"]) == (
        "brute_force",
        "198.51.100.7",
        "bad_signature",
    )
    assert g.retry_after("198.51.100.7") == 13


def test_a_block_another_server_started_is_kept_without_a_second_alarm() -> None:
    """``(seconds, False)``: already blocked elsewhere; refused here too, but no new alarm."""
    g, _ = guard(shared=Recorder((7.0, False)))
    assert forge(g, "198.51.100.7") == []
    assert g.retry_after("198.51.100.7") == 7


def test_an_unreachable_shared_counter_falls_back_to_counting_here() -> None:
    """``None`` (Redis down): this process counts on its own and still blocks."""
    g, _ = guard(bad_limit=1, shared=Recorder(None, None))
    assert forge(g, "198.51.100.7") == []
    assert len(forge(g, "198.51.100.7")) == 1
    assert g.retry_after("198.51.100.7") == 300


def test_async_observe_awaits_the_shared_counter_with_the_same_question() -> None:
    """The ASGI path asks ``ahit`` exactly what the sync path asks ``hit``."""
    shared = Recorder((0.0, False), (0.0, False), (12.5, True))
    g, _ = guard(bad_limit=4, bad_window=60, block_for=30, shared=shared)
    stale = Event("token_invalid", "198.51.100.7", detail={"reason": "token expired"})

    async def run() -> list[list[Event]]:
        return [
            await g.aobserve((stale, Event("bad_signature", "198.51.100.7")), 5),
            await g.aobserve((Event("bad_signature", "198.51.100.7"),), 5),  # a repeat
            await g.aobserve((Event("bad_signature", "2001:db8:1:2::5"),), 6),
            await g.aobserve((Event("bad_signature", "198.51.100.7"),), 7),
        ]

    first, repeat, other, blocking = asyncio.run(run())
    assert first == repeat == other == []
    assert [call[:2] for call in shared.calls] == [
        ("ahit", "198.51.100.7"),
        ("ahit", "v6:20010db800010002"),
        ("ahit", "198.51.100.7"),
    ]
    _name, _key, now, step, burst, block_for = shared.calls[0]
    assert (now, step, block_for) == (START, 15.0, 30.0)
    assert burst == pytest.approx(60.0, abs=1e-3) and burst > 60.0
    (alarm,) = blocking
    assert (alarm.kind, alarm.client) == ("brute_force", "198.51.100.7")
    assert alarm.detail == {"limit": 4, "window": 60, "block_for": 30, "last": "bad_signature"}
    assert g.retry_after("198.51.100.7") == 13


def test_async_observe_counts_here_when_the_shared_counter_is_down() -> None:
    """``ahit`` answering None: the async path counts locally and blocks."""
    g, _ = guard(bad_limit=1, shared=Recorder(None, None))

    async def run() -> list[Event]:
        alarms = await g.aobserve((Event("bad_signature", "198.51.100.7"),))
        return alarms + await g.aobserve((Event("bad_signature", "198.51.100.7"),))

    (alarm,) = asyncio.run(run())
    assert alarm.kind == "brute_force"
    assert g.retry_after("198.51.100.7") == 300


def test_a_block_of_one_second_or_less_is_still_a_block() -> None:
    """Short blocks (``block_for=1``, or a shared block's last half second) are enforced."""
    g, _ = guard(bad_limit=1, block_for=1)
    (alarm,) = forge(g, "198.51.100.7", 2)
    assert alarm.detail["block_for"] == 1
    assert g.retry_after("198.51.100.7") == 1
    shared, _ = guard(shared=Recorder((0.5, False)))
    forge(shared, "198.51.100.8")
    assert shared.retry_after("198.51.100.8") == 1


def test_async_observe_never_sends_a_lapsed_token_to_the_shared_counter() -> None:
    """An expired token of ours is not a forgery on the ASGI path either: no round trip."""
    shared = Recorder()
    g, _ = guard(shared=shared)
    stale = Event("token_invalid", "198.51.100.7", detail={"reason": "token expired"})
    assert asyncio.run(g.aobserve((stale, stale))) == []
    assert shared.calls == []


def test_async_observe_raises_the_global_alarm() -> None:
    """The distributed-run alarm is raised on the ASGI path with a shared counter too."""
    g, _ = guard(global_limit=2, shared=Recorder((0.0, False), (0.0, False)))

    async def run() -> list[Event]:
        alarms = await g.aobserve((Event("bad_signature", "10.0.0.1"),))
        return alarms + await g.aobserve((Event("bad_signature", "10.0.0.2"),))

    (alarm,) = asyncio.run(run())
    assert (alarm.client, alarm.detail["scope"]) == (None, "global")


def test_async_fallback_counts_each_client_on_its_own() -> None:
    """With Redis down, two clients forging once each are two counts of one, not one of two."""
    g, _ = guard(bad_limit=1, shared=Recorder(None, None))

    async def run() -> list[Event]:
        alarms = await g.aobserve((Event("bad_signature", "10.0.0.1"),))
        return alarms + await g.aobserve((Event("bad_signature", "10.0.0.2"),))

    assert asyncio.run(run()) == []
    assert g.blocked() == 0


def test_a_counter_pushed_out_while_redis_was_asked_is_made_again() -> None:
    """Other requests may evict a client's entry during the await; the fallback still counts."""

    class Busy(Recorder):
        """Redis is down, and while it is awaited a concurrent request takes the only slot."""

        guard: Guard

        def hit(
            self, key: str, now: float, step: float, burst: float, block_for: float
        ) -> tuple[float, bool] | None:
            return None

        async def ahit(
            self, key: str, now: float, step: float, burst: float, block_for: float
        ) -> tuple[float, bool] | None:
            forge(self.guard, "10.0.0.99")
            return None

    busy = Busy()
    g = busy.guard = Guard(
        GuardConfig(bad_limit=1, max_clients=1, global_limit=None, shared=busy), FakeClock(START)
    )

    async def run() -> list[Event]:
        alarms: list[Event] = []
        for _ in range(2):
            alarms += await g.aobserve((Event("bad_signature", "198.51.100.7"),))
        return alarms

    assert asyncio.run(run()) == []  # each time its count starts afresh, and nothing fails
    assert g.entries() == 1


def test_a_blocked_client_never_reaches_the_shared_counter() -> None:
    """While blocked here, forgeries are not even sent to Redis (no round trip, no extension)."""
    shared = Recorder((12.5, True))
    g, _ = guard(shared=shared)
    forge(g, "198.51.100.7")

    async def run() -> list[Event]:
        return await g.aobserve((Event("bad_signature", "198.51.100.7"),))

    assert forge(g, "198.51.100.7", 3) == [] and asyncio.run(run()) == []
    assert len(shared.calls) == 1


def test_the_blocked_gauge_counts_only_blocks_still_running() -> None:
    """Shared blocks of different lengths end out of order; the gauge follows each end.

    A long block started elsewhere (300 s) sits before a short one (5 s) in the
    sweep order; once the short one ends, ``blocked()`` (the
    ``sessionware_guard_blocked_clients`` gauge) must say 1, not 2.
    """
    g, clock = guard(shared=Recorder((300.0, True), (5.0, False)))
    forge(g, "198.51.100.7")
    forge(g, "198.51.100.8")
    assert g.blocked() == 2
    held = g.entries()
    clock.advance(5)  # the short block ends exactly now, as retry_after sees it
    assert g.blocked() == 1
    assert g.retry_after("198.51.100.8") == 0
    clock.advance(295)
    assert g.blocked() == 0
    assert g.entries() == held - 2  # asking the gauge also swept both ended blocks
