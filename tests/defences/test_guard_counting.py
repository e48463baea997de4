"""The guard's exact counting rule (AN-01): what counts, how many, and when a block begins.

Mutation testing (#18) showed the edges of the rule unpinned: which token
reasons are "ours" (stale, not forged), the exact burst a client may send,
the sliding refill, the exact ``Retry-After``, the instant a block ends, the
memory of repeated values and the global alarm's window.  Each test drives a
:class:`Guard` directly on a hand-moved clock, so every boundary is exact.
"""

from __future__ import annotations

import asyncio

import pytest

from sessionware.config import GuardConfig
from sessionware.defences.guard import COUNTED, Guard, counts
from sessionware.events import KINDS, Event
from sessionware.testing import FakeClock

ATTACKER = "198.51.100.7"
START = 1024.0


def guard(**fields: object) -> tuple[Guard, FakeClock]:
    """A guard on a clock at an exactly representable instant (no float drift)."""
    fields.setdefault("global_limit", None)
    clock = FakeClock(START)
    return Guard(GuardConfig(**fields), clock), clock  # type: ignore[arg-type]


def forge(
    g: Guard, times: int = 1, client: str = ATTACKER, kind: str = "bad_signature"
) -> list[Event]:
    """``times`` forged credentials, each a distinct value; the alarms they raised."""
    alarms: list[Event] = []
    for _ in range(times):
        alarms += g.observe((Event(kind, client),))
    return alarms


@pytest.mark.parametrize("reason", ["token expired", "token not yet valid", "session revoked"])
def test_tokens_we_signed_that_merely_lapsed_never_count(reason: str) -> None:
    """An expired, not-yet-valid or session-ended token of ours is stale, not forged."""
    stale = Event("token_invalid", ATTACKER, detail={"reason": reason, "token": "access"})
    assert not counts(stale)
    g, _ = guard(bad_limit=1)
    for _ in range(5):
        assert g.observe((stale,)) == []
    assert g.retry_after(ATTACKER) == 0
    assert g.entries() == 0  # not even a counter was made for it


@pytest.mark.parametrize(
    "event",
    [
        Event("bad_signature", ATTACKER),
        Event("token_invalid", ATTACKER, detail={"reason": "bad signature", "token": "access"}),
        Event("token_invalid", ATTACKER, detail={"token": "refresh"}),
        Event("token_reuse", ATTACKER),
    ],
)
def test_forged_credentials_count(event: Event) -> None:
    """A bad signature, any other refused token, and a reused refresh token are forgeries."""
    assert counts(event)
    assert event.kind in COUNTED


@pytest.mark.parametrize("kind", sorted(KINDS - COUNTED))
def test_nothing_else_counts(kind: str) -> None:
    """Every other kind (stale IDs, URL IDs, foreign cookies, alarms...) is never counted."""
    assert not counts(Event(kind, ATTACKER, detail={"reason": "bad signature"}))


def test_the_limit_is_an_exact_burst_and_the_next_one_blocks() -> None:
    """``bad_limit`` forgeries pass; the next one starts a block with one exact alarm."""
    g, _ = guard(bad_limit=4, bad_window=60, block_for=30)
    for _ in range(4):
        assert forge(g) == []
        assert g.retry_after(ATTACKER) == 0
    assert g.entries() == 1  # one counter, no block yet
    (alarm,) = forge(g, kind="token_reuse")
    assert (alarm.kind, alarm.client) == ("brute_force", ATTACKER)
    assert alarm.detail == {"limit": 4, "window": 60, "block_for": 30, "last": "token_reuse"}
    assert g.retry_after(ATTACKER) == 30
    assert g.blocked() == 1 and g.entries() == 2


def test_the_allowance_refills_one_every_window_over_limit() -> None:
    """After a full burst, one more is allowed each ``window / limit`` seconds, not sooner."""
    g, clock = guard(bad_limit=4, bad_window=60)
    forge(g, 4)
    clock.advance(15)
    assert forge(g) == []  # exactly one step later: one more
    assert len(forge(g)) == 1  # but not two

    early, clock = guard(bad_limit=4, bad_window=60)
    forge(early, 4)
    clock.advance(14.5)
    assert len(forge(early)) == 1  # half a second short of a step: blocked


def test_a_drained_counter_allows_a_full_burst_again() -> None:
    """A client quiet for a whole window has its full allowance back."""
    g, clock = guard(bad_limit=3, bad_window=60)
    forge(g, 3)
    clock.advance(60)
    assert forge(g, 3) == []
    assert len(forge(g)) == 1


def test_retry_after_counts_down_and_the_block_ends_exactly_on_time() -> None:
    """``Retry-After`` is the rounded-up rest of the block; at its end nothing is refused."""
    g, clock = guard(bad_limit=1, block_for=30)
    forge(g, 2)
    assert g.refused_blocked == 0  # counting is not refusing
    clock.advance(10.5)
    assert g.retry_after(ATTACKER) == 20
    assert g.retry_after(ATTACKER) == 20
    assert g.refused_blocked == 2  # the metric counts each refused request
    clock.advance(19.5)
    assert g.retry_after(ATTACKER) == 0
    assert g.refused_blocked == 2
    assert g.blocked() == 0


def test_only_the_blocked_client_is_refused() -> None:
    """Another client, or a request without an address, is never refused by a block."""
    g, _ = guard(bad_limit=1, block_for=30)
    forge(g, 2)
    assert g.retry_after("198.51.100.8") == 0
    assert g.retry_after(None) == 0
    assert g.refused_blocked == 0


def test_ipv6_blocks_cover_the_configured_prefix() -> None:
    """With ``ipv6_prefix=48`` a block covers the whole /48, and nothing outside it."""
    g, _ = guard(bad_limit=1, ipv6_prefix=48)
    forge(g, 2, client="2001:db8:1:2::1")
    assert g.retry_after("2001:db8:1:ffff::9") > 0
    assert g.retry_after("2001:db8:2::1") == 0


def test_no_address_is_never_counted() -> None:
    """Events without a client address (a unix socket) make no counter and no block."""
    g, _ = guard(bad_limit=1)
    assert forge(g, 5, client=None) == []  # type: ignore[arg-type]
    assert g.entries() == 0


def test_nothing_counts_during_a_block_and_counting_restarts_at_its_end() -> None:
    """Forgeries while blocked are ignored; at the block's end the full allowance is back.

    The block (30 s) is shorter than the window (60 s): the count that led to
    it must not survive it, or the first forgery after it would block again.
    """
    g, clock = guard(bad_limit=1, bad_window=60, block_for=30)
    forge(g, 2)
    clock.advance(29)
    assert forge(g, 10) == []
    clock.advance(1)  # the block ends exactly now
    assert forge(g) == []
    (alarm,) = forge(g)
    assert alarm.kind == "brute_force"
    assert g.retry_after(ATTACKER) == 30


def test_a_repeated_value_counts_once() -> None:
    """One value sent on many parallel requests is one forgery; ``None`` always counts."""
    g, _ = guard(bad_limit=2)
    for _ in range(10):
        assert g.observe((Event("bad_signature", ATTACKER),), repeat=77) == []
    assert g.observe((Event("bad_signature", ATTACKER),), repeat=78) == []
    assert len(g.observe((Event("bad_signature", ATTACKER),), repeat=None)) == 1


def test_alternating_values_are_both_remembered() -> None:
    """Two values sent in turn count twice, not once per request."""
    g, _ = guard(bad_limit=2)
    for _ in range(10):
        for value in (1001, 2002):
            assert g.observe((Event("bad_signature", ATTACKER),), repeat=value) == []


def test_the_last_four_values_are_remembered_and_the_fifth_back_counts_again() -> None:
    """Four recent distinct values are remembered; an older one counts again."""
    g, _ = guard(bad_limit=5)
    values = [0x10001, 0x20002, 0x30003, 0x40004, 0x50005]
    for value in values:
        assert g.observe((Event("bad_signature", ATTACKER),), repeat=value) == []
    for value in values[1:]:
        assert g.observe((Event("bad_signature", ATTACKER),), repeat=value) == []
    (alarm,) = g.observe((Event("bad_signature", ATTACKER),), repeat=values[0])
    assert alarm.kind == "brute_force"


def test_a_value_whose_low_bits_are_zero_is_remembered_too() -> None:
    """A hash ending in sixteen zero bits is still remembered (0 marks an empty slot)."""
    g, _ = guard(bad_limit=1)
    for _ in range(5):
        assert g.observe((Event("bad_signature", ATTACKER),), repeat=0x70000) == []
    (alarm,) = g.observe((Event("bad_signature", ATTACKER),), repeat=0x70002)
    assert alarm.kind == "brute_force"  # the first value was counted once


def test_async_observe_without_a_shared_counter_applies_the_same_rule() -> None:
    """The ASGI path counts a repeated value once and lapsed tokens never."""
    g, _ = guard(bad_limit=1)

    async def run() -> list[Event]:
        stale = Event("token_invalid", ATTACKER, detail={"reason": "token expired"})
        alarms = await g.aobserve((stale, stale, stale))
        for _ in range(5):
            alarms += await g.aobserve((Event("bad_signature", ATTACKER),), 99)
        return alarms

    assert asyncio.run(run()) == []
    assert asyncio.run(g.aobserve((Event("bad_signature", ATTACKER),), 100))[0].detail == {
        "limit": 1,
        "window": 60,
        "block_for": 300,
        "last": "bad_signature",
    }


def test_a_distributed_run_raises_one_global_alarm_per_window() -> None:
    """``global_limit`` forgeries from anyone raise one alarm; the next window may raise another."""
    g, clock = guard(bad_limit=100, global_limit=3, bad_window=60)
    alarms = [forge(g, client=f"10.0.0.{i}") for i in range(6)]
    assert [len(a) for a in alarms] == [0, 0, 1, 0, 0, 0]
    (alarm,) = alarms[2]
    assert (alarm.kind, alarm.client) == ("brute_force", None)
    assert alarm.detail == {"scope": "global", "count": 3, "window": 60}
    clock.advance(60)  # exactly one window after the first: a new window begins
    alarms = [forge(g, client=f"10.0.1.{i}") for i in range(4)]
    assert [len(a) for a in alarms] == [0, 0, 1, 0]


def test_the_global_alarm_can_be_switched_off() -> None:
    """``global_limit=None``: no global alarm however many clients forge."""
    g, _ = guard(bad_limit=100, global_limit=None)
    assert all(forge(g, client=f"10.0.0.{i}") == [] for i in range(50))


def test_a_new_guard_starts_with_zeroed_metrics() -> None:
    """Both refusal counters and both tables start empty (the Prometheus series start at 0)."""
    g, _ = guard()
    assert (g.refused_blocked, g.refused_flood, g.entries(), g.blocked()) == (0, 0, 0, 0)
