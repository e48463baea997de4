"""The guard: brute-force blocking per client (AN-01) that never locks a user out.

The rule.  The guard never refuses a request that carries a valid, live
credential, nor one that carries none.  Only evidence that the sender itself
presented a *forged* credential counts toward a block (:func:`counts`):

* a cookie under our name, of our signed shape, whose signature fails
  (``bad_signature``);
* an invalid bearer token in ``Authorization`` (``token_invalid`` with
  ``token=access``), except one we signed that merely expired or whose
  session ended;
* a refresh token refused at the refresh endpoint, sent the way it accepts
  them (a JSON POST; anything else is 415 / 403 there and never reaches it).

Nothing a third-party page can make a browser send counts: a URL parameter
(``url_id``), a signed ID whose record is gone (``unknown_id``, ``ended``,
``expired``, ``logout_replay``: only we can sign, so these are stale, not forged), a
duplicate or oversized cookie, a cookie under our name that is not of our
shape (``foreign_cookie``).  Those events are still raised and logged.

Each distinct presented value counts once (a browser sends one stale cookie
on many parallel requests; the last 4 distinct values per client are
remembered), and nothing counts while a client is blocked, so repeats never
extend a block.  Past ``bad_limit`` per ``bad_window`` the
client is blocked for ``block_for``, and one ``brute_force`` event marks the
start.  A block refuses only the blocked client's requests whose credential
fails verification (:meth:`Guard.retry_after` is asked for those alone):
they get 429, ``Retry-After`` and a deletion cookie, so a browser holding a
stale cookie (one signed with a retired key) recovers on its next request.
Every other request from that client passes as if there were no block.

What it costs.  A good request causes no counted event, so it touches no
counter; blocked-client lookups happen only for requests whose credential
already failed.

Why the numbers hold.  Counters are GCRA ("generic cell rate algorithm")
timestamps: one float per limit per client, a sliding limit with no
window-edge doubling.  One LRU table holds every client's entry, capped at
``max_clients`` (idle entries also leave from its old end as new ones
arrive); blocks live in a second table with the same cap, ended ones swept
as new blocks begin.  So an attacker cycling through a million spoofed
addresses only recycles slots: evicting a slot forgets a count, it never
blocks an innocent client.  A distributed run that no single client trips
raises one ``brute_force`` event with ``scope=global`` per window once
``global_limit`` is passed.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from ..config import GuardConfig
from ..events import Event
from .client_address import ClientKey, client_key

__all__ = ["COUNTED", "PRESENTED", "Guard", "counts"]

#: A salted in-process hash of the token this request presented, set by the
#: bearer gate and the refresh endpoints around verification, so the guard
#: counts one token repeated by a client's parallel requests once.
PRESENTED: ContextVar[int | None] = ContextVar("sessionware_presented", default=None)

#: Kinds that may count toward a block (:func:`counts` has the exact rule).
COUNTED = frozenset({"bad_signature", "token_invalid", "token_reuse"})
#: ``token_invalid`` reasons for tokens we signed ourselves: stale, not forged.
_OURS = frozenset({"token expired", "token not yet valid", "session revoked"})
#: Recent credential values remembered per client: 4 slots of 16 hash bits packed
#: in one int, so an entry stays small under a million-address flood (AN-06).  A
#: 16-bit collision lets one forgery in 16,384 go uncounted, which is harmless.
_SLOTS = 4
_SLOT_BITS = 16
_SLOT_MASK = (1 << _SLOT_BITS) - 1
_SEEN_MASK = (1 << (_SLOTS * _SLOT_BITS)) - 1
#: Float slack so ``limit`` events in one burst are allowed exactly.
_EPSILON = 1e-6


def counts(event: Event) -> bool:
    """True when ``event`` is evidence that its sender presented a forged credential."""
    kind = event.kind
    if kind == "bad_signature":
        return True
    if kind == "token_invalid":
        return event.detail.get("reason") not in _OURS
    return kind == "token_reuse"


class _Client:
    """What the guard remembers about one client (about 250 bytes with its table slot).

    ``bad`` is a GCRA "theoretical arrival time": each hit pushes it one
    ``window / limit`` seconds further, and a hit that would push it more
    than ``window`` past now is over the limit (and is not recorded).
    ``seen`` packs 16 bits of the salted hashes of the last 4 distinct
    credentials counted (0: an empty slot).
    """

    __slots__ = ("bad", "seen")

    def __init__(self, now: float) -> None:
        self.bad = now
        self.seen = 0

    def repeated(self, credential: int) -> bool:
        """True when ``credential`` was counted recently; otherwise remember it."""
        tag = (credential & _SLOT_MASK) or 1
        seen = self.seen
        for slot in range(_SLOTS):
            if (seen >> (slot * _SLOT_BITS)) & _SLOT_MASK == tag:
                return True
        self.seen = ((seen << _SLOT_BITS) | tag) & _SEEN_MASK
        return False

    def idle(self, now: float) -> bool:
        return self.bad <= now


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
        self._clients: OrderedDict[ClientKey, _Client] = OrderedDict()
        self._blocked: OrderedDict[ClientKey, float] = OrderedDict()
        self._global_start = -math.inf
        # equivalent: the first _global call starts a window (start is -inf) and resets it
        self._global_count = 0  # pragma: no mutate
        #: Requests answered 429 because their client was blocked.
        self.refused_blocked = 0
        #: Kept for the metric series: creations are never refused since 0.2
        #: (:mod:`sessionware.defences.flood` evicts instead).
        self.refused_flood = 0

    # -- before anything else ------------------------------------------------------

    def retry_after(self, client: str | None) -> int:
        """Seconds ``client`` must wait (429), or 0 to go ahead.

        Asked only for a request whose credential failed verification; its
        common case is a single truth test (no block exists at all) and
        otherwise one dict lookup.
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
        """Count the forged credentials among ``events``; returns ``brute_force`` events.

        :param repeat: a hash of the credential the request presented, so a
            value repeated by one browser's parallel requests counts once.
        """
        alarms: list[Event] = []
        for event in events:
            if event.kind in COUNTED and counts(event):
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
            if event.kind in COUNTED and counts(event):
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
        until = self._blocked.get(key)
        if until is not None and until > now:
            return None  # blocked already: nothing extends a block
        entry = self._entry(key, now)
        if repeat is not None and entry.repeated(repeat):
            return None
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
                    # equivalent: the client defaults to None; naming it is only for the reader
                    None,  # pragma: no mutate
                    detail={"scope": "global", "count": limit, "window": self.config.bad_window_s},
                )
            )

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
        """Drop ended blocks from the old end.

        Local blocks end in the order they began (each lasts ``block_for``);
        one a shared counter reports may be shorter and end behind a longer
        one, and then waits here for its turn (refusals check each end time,
        and the table stays capped, so only :meth:`blocked` must look closer).
        """
        blocked = self._blocked
        while blocked and (budget is None or budget > 0):
            if next(iter(blocked.values())) > now:
                # equivalent: nothing follows the loop, so returning here is the same as breaking
                break  # pragma: no mutate
            blocked.popitem(last=False)
            if budget is not None:
                budget -= 1

    def blocked(self) -> int:
        """Clients blocked now: the gauge, asked once per metrics scrape.

        Counted by end time, not by table size: a shorter shared block may
        have ended behind a longer one that the sweep has not reached.
        """
        now = self.clock()
        self._sweep(now, None)
        return sum(1 for end in self._blocked.values() if end > now)

    def entries(self) -> int:
        """Entries in both tables; never more than ``2 * max_clients`` (AN-06)."""
        return len(self._clients) + len(self._blocked)
