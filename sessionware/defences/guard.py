"""The guard: brute-force blocking and session-flood limits per client (AN-01, AN-06).

What it watches.  Every event whose kind is in :data:`~sessionware.events.BAD_KINDS`
(forged or malformed cookies, unknown IDs (not ended ones), URL-borne IDs,
duplicate cookies, invalid or reused tokens) counts against the client that
caused it.  Past ``bad_limit`` per ``bad_window`` the client is blocked for
``block_for``: its requests are answered 429 with ``Retry-After`` before the
engine or the backend sees them, and one ``brute_force`` event marks the
start of the block.  New sessions (``created`` and ``login``) are limited per
client too; beyond ``create_limit`` the response is 429, nothing is stored,
and a ``flood`` event is raised (at most once per window per client).

What it costs.  A good request causes no event, so it touches no counter:
the only work is :meth:`Guard.retry_after`, which returns at once while
nobody is blocked and is one dict lookup otherwise.

Why the numbers hold.  Counters are GCRA ("generic cell rate algorithm")
timestamps: one float per limit per client, a sliding limit with no
window-edge doubling.  One LRU table holds every client's entry, capped at
``max_clients`` (idle entries also leave from its old end as new ones
arrive); blocks live in a second table with the same cap, ended ones swept
as new blocks begin.  So an attacker
cycling through a million spoofed addresses only recycles slots: evicting a
slot forgets a count, it never blocks an innocent client.  A browser whose
session died sends the same stale cookie on many parallel requests; repeats
of one value count once, so a page load after a server restart does not
look like guessing.  A distributed run that no single client trips raises one
``brute_force`` event with ``scope=global`` per window once ``global_limit``
is passed.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from ..config import GuardConfig
from ..events import BAD_KINDS, Event
from .client_address import ClientKey, client_key

__all__ = ["Guard"]

#: Kinds a real browser repeats with one stale cookie; repeats of a value count once.
REPEATABLE = frozenset({"unknown_id", "expired", "logout_replay"})
#: Float slack so ``limit`` events in one burst are allowed exactly.
_EPSILON = 1e-6


class _Client:
    """What the guard remembers about one client (about 250 bytes with its table slot).

    ``bad`` and ``created`` are GCRA "theoretical arrival times": each hit
    pushes one ``window / limit`` seconds further, and a hit that would push
    it more than ``window`` past now is over the limit (and is not recorded).
    """

    __slots__ = ("bad", "created", "noted", "repeat")

    def __init__(self, now: float) -> None:
        self.bad = now
        self.created = now
        self.noted = 0.0  # until when a flood event was already raised
        self.repeat = 0  # hash of the last repeatable credential

    def idle(self, now: float) -> bool:
        return self.bad <= now and self.created <= now and self.noted <= now


def _shared_key(key: ClientKey) -> str:
    return key if isinstance(key, str) else f"v6:{key:x}"


def _gcra(tat: float, now: float, step: float, burst: float) -> tuple[float, float]:
    """``(new_tat, 0.0)`` when one more hit is allowed, else ``(tat, seconds to wait)``."""
    new = max(tat, now) + step
    excess = new - now - burst
    return (tat, excess) if excess > 0 else (new, 0.0)


class Guard:
    """Per-client counters and blocks for one middleware (one process).

    :param config: thresholds (:class:`~sessionware.config.GuardConfig`).
    :param clock: Unix seconds; the middleware passes its own (injectable) clock.

    .. versionadded:: 0.1
    """

    def __init__(self, config: GuardConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._bits = config.ipv6_prefix
        self._size = config.max_clients
        self._bad_step = config.bad_window_s / config.bad_limit
        self._bad_burst = config.bad_window_s + _EPSILON
        self._create_step = config.create_window_s / config.create_limit
        self._create_burst = config.create_window_s + _EPSILON
        self._clients: OrderedDict[ClientKey, _Client] = OrderedDict()
        self._blocked: OrderedDict[ClientKey, float] = OrderedDict()
        self._global_start = -math.inf
        self._global_count = 0
        #: Requests answered 429 because their client was blocked / flooding.
        self.refused_blocked = 0
        self.refused_flood = 0

    # -- before anything else ------------------------------------------------------

    def retry_after(self, client: str | None) -> int:
        """Seconds ``client`` must wait (429), or 0 to go ahead.

        This runs on every request, so its common case is a single truth
        test (no block exists at all) and otherwise one dict lookup; the
        clock is read only for a client that is in the block table.
        """
        blocked = self._blocked
        if not blocked or client is None:
            return 0
        key = client_key(client, self._bits)
        until = blocked.get(key)
        if until is None:
            return 0
        now = self.clock()
        if until <= now:
            del blocked[key]
            return 0
        self.refused_blocked += 1
        return math.ceil(until - now)

    # -- after bad events ------------------------------------------------------------

    def observe(self, events: Iterable[Event], repeat: int | None = None) -> list[Event]:
        """Count the bad events among ``events``; returns ``brute_force`` events to emit.

        :param repeat: a hash of the credential the request presented, so a
            value repeated by one browser's parallel requests counts once.
        """
        alarms: list[Event] = []
        for event in events:
            if event.kind in BAD_KINDS:
                key = self._screen(event, repeat, alarms)
                if key is not None:
                    self._settle(event, key, self._hit(key), alarms)
        return alarms

    async def aobserve(self, events: Iterable[Event], repeat: int | None = None) -> list[Event]:
        """:meth:`observe` for async adapters: a shared counter is awaited, not blocked on."""
        shared = self.config.shared
        if shared is None:
            return self.observe(events, repeat)
        alarms: list[Event] = []
        for event in events:
            if event.kind in BAD_KINDS:
                key = self._screen(event, repeat, alarms)
                if key is not None:
                    now = self.clock()
                    result = await shared.ahit(
                        _shared_key(key), now, self._bad_step, self._bad_burst, self.config.block_s
                    )
                    self._settle(event, key, self._local(key, now, result), alarms)
        return alarms

    def _screen(self, event: Event, repeat: int | None, alarms: list[Event]) -> ClientKey | None:
        """The key to count ``event`` against, or None when it does not count."""
        now = self.clock()
        self._global(now, alarms)
        client = event.client
        if client is None:
            return None  # no address (a unix socket without proxy headers): nothing to block
        key = client_key(client, self._bits)
        entry = self._entry(key, now)
        if repeat is not None and event.kind in REPEATABLE:
            if entry.repeat == repeat:
                return None
            entry.repeat = repeat
        return key

    def _hit(self, key: ClientKey) -> tuple[float, bool]:
        now = self.clock()
        shared = self.config.shared
        result = None
        if shared is not None:
            result = shared.hit(
                _shared_key(key), now, self._bad_step, self._bad_burst, self.config.block_s
            )
        return self._local(key, now, result)

    def _local(
        self, key: ClientKey, now: float, result: tuple[float, bool] | None
    ) -> tuple[float, bool]:
        """``result`` from the shared counter, or this process's own count without one."""
        if result is not None:
            return result
        entry = self._entry(key, now)
        entry.bad, over = _gcra(entry.bad, now, self._bad_step, self._bad_burst)
        if not over:
            return 0.0, False
        entry.bad = now  # the block takes over; counting restarts after it
        return self.config.block_s, True

    def _settle(
        self, event: Event, key: ClientKey, outcome: tuple[float, bool], alarms: list[Event]
    ) -> None:
        """Block ``key`` for the seconds in ``outcome``; raise ``brute_force`` if it began now."""
        wait, started = outcome
        if wait <= 0:
            return
        now = self.clock()
        blocked = self._blocked
        self._sweep(now, 2)
        blocked[key] = now + wait
        blocked.move_to_end(key)
        if len(blocked) > self._size:
            blocked.popitem(last=False)
        if not started:
            return
        cfg = self.config
        alarms.append(
            Event(
                "brute_force",
                event.client,
                detail={
                    "limit": cfg.bad_limit,
                    "window": cfg.bad_window_s,
                    "block_for": cfg.block_s,
                    "last": event.kind,
                },
            )
        )

    def _global(self, now: float, alarms: list[Event]) -> None:
        limit = self.config.global_limit
        if limit is None:
            return
        if now - self._global_start >= self.config.bad_window_s:
            self._global_start = now
            self._global_count = 0
        self._global_count += 1
        if self._global_count == limit:
            alarms.append(
                Event(
                    "brute_force",
                    None,
                    detail={"scope": "global", "count": limit, "window": self.config.bad_window_s},
                )
            )

    # -- before a commit creates sessions ---------------------------------------------

    def admit(self, client: str | None, creations: int) -> tuple[int, Event | None]:
        """``(0, None)`` to let ``creations`` new sessions through, else ``(retry_after, event)``.

        The event (``flood``) is raised at most once per window per client,
        so a flood does not become a log flood.
        """
        if client is None or creations <= 0:
            return 0, None
        now = self.clock()
        entry = self._entry(client_key(client, self._bits), now)
        wait = 0.0
        for _ in range(creations):
            entry.created, wait = _gcra(entry.created, now, self._create_step, self._create_burst)
            if wait:
                break
        if not wait:
            return 0, None
        self.refused_flood += 1
        if entry.noted > now:
            return math.ceil(wait), None
        cfg = self.config
        entry.noted = now + cfg.create_window_s
        event = Event(
            "flood", client, detail={"limit": cfg.create_limit, "window": cfg.create_window_s}
        )
        return math.ceil(wait), event

    # -- the table ----------------------------------------------------------------------

    def _entry(self, key: ClientKey, now: float) -> _Client:
        """The entry for ``key``, made most recent; a new one may push out the oldest."""
        table = self._clients
        entry = table.get(key)
        if entry is not None:
            table.move_to_end(key)
            return entry
        for _ in range(2):  # expiry: idle entries leave from the old end as new ones arrive
            oldest = next(iter(table.values()), None)
            if oldest is None or not oldest.idle(now):
                break
            table.popitem(last=False)
        entry = table[key] = _Client(now)
        if len(table) > self._size:
            table.popitem(last=False)
        return entry

    def _sweep(self, now: float, budget: int | None) -> None:
        """Drop ended blocks from the old end (blocks end in the order they began)."""
        blocked = self._blocked
        while blocked and (budget is None or budget > 0):
            if next(iter(blocked.values())) > now:
                break
            blocked.popitem(last=False)
            if budget is not None:
                budget -= 1

    def blocked(self) -> int:
        """Clients blocked now (ended blocks are swept first)."""
        self._sweep(self.clock(), None)
        return len(self._blocked)

    def entries(self) -> int:
        """Entries in both tables; never more than ``2 * max_clients`` (AN-06)."""
        return len(self._clients) + len(self._blocked)
