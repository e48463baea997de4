"""MemoryBackend: the embedded default, bounded and thread-safe.

Good for one process (tests, small apps, the demo).  Memory is bounded two
ways (RS-04): expired records are swept from a min-heap of deadlines in
amortized O(expired) work, a little on every write, never by a full scan;
and at most ``max_entries`` records are kept.  A new session beyond it
evicts the *anonymous* session closest to expiry (a second heap holds only
those); a signed-in session is never evicted to make room.  When only
signed-in sessions remain, the new session is refused with
:class:`~sessionware.errors.StoreFull` (the write answers 503 with
``Retry-After``, as an outage does), so a flood of anonymous visitors can
cost nobody their login.

The data cap (``Patch.max_bytes``, and a carrying rotation's
``Create.max_bytes``) is checked under the lock against the record as
stored, before any op of the commit is applied.  A carrying rotation
(``Create.carry``) builds its data under the same lock from the replaced
record as stored, so a write committed after this request's load survives.

Tombstones (why a signed-in session ended) live in their own ordered dict,
never in the records: at most ``max_tombstones``, the oldest dropped first,
each gone at its ``until``.  The expiry form is the companion written with
the record at login (:func:`~sessionware.records.companion`), so touches and
sweeps write nothing extra.

Stored records are never changed in place: a patch stores a fresh copy.  So
``load`` can hand out the stored object itself without copying, and a reader
never sees a half-applied patch.  One lock guards every structure; the async
face takes the same lock (critical sections are a few microseconds, no I/O).

Memory (issue #16): only the ``HOT_ENTRIES`` records written or read most
recently are kept as :class:`~sessionware.records.Record` objects; older
ones are stored compactly (:class:`Row`: a small tuple around one
:mod:`marshal` blob instead of an object, three dicts and a str object per
value), about half the memory.  A compact record is decoded back to an
equal ``Record`` when it is next read.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from ..errors import StoreFull
from ..records import (
    APPLIED,
    ApplyResult,
    Create,
    Delete,
    Op,
    Patch,
    Record,
    Tombstone,
    Touch,
    cap_key,
    companion,
    data_size,
    ended,
)
from .memory_rows import Row

__all__ = ["MemoryBackend"]

#: Heap entries popped per write; keeps the sweep's cost per request bounded.
SWEEP_BATCH = 32
#: Records kept whole (the most recently written or read); the rest are compact.
HOT_ENTRIES = 1024


class MemoryBackend:
    """Sessions in a dict, for a single process.

    :param max_entries: the most records kept at once; a new session beyond
        it evicts the anonymous record closest to expiry, never a signed-in one.
    :param max_tombstones: the most tombstones kept at once (oldest dropped).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 keeps tombstones (``max_tombstones``).
    """

    #: Stores why sessions ended (the optional capability of the protocol).
    keeps_tombstones = True

    def __init__(self, *, max_entries: int = 100_000, max_tombstones: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_tombstones < 0:
            raise ValueError("max_tombstones must be at least 0")
        self.max_entries = max_entries
        self.max_tombstones = max_tombstones
        self._tombs: OrderedDict[str, Tombstone] = OrderedDict()
        self._records: dict[str, Record | Row] = {}
        #: Keys stored as whole Records, oldest first (see HOT_ENTRIES).
        self._whole: dict[str, None] = {}
        self._handles: dict[str, str] = {}
        self._users: dict[str, set[str]] = {}
        self._heap: list[tuple[float, str]] = []
        #: Deadlines of anonymous records only: the eviction order under pressure.
        self._anon: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    # -- sync face -----------------------------------------------------------

    #: ``load`` accepts a :class:`~sessionware.records.Touch` (see the protocol).
    touches_on_load = True

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        stored = self._records.get(key)
        if stored is None or stored.expires_at <= now:
            return None
        record = self._thaw(key, stored) if isinstance(stored, Row) else stored
        if touch is not None and touch.due(record, now):
            with self._lock:
                current = self._records.get(key)
                if current is None or current.expires_at <= now:
                    return None
                if current is not record:  # changed meanwhile: touch what is there now
                    record = current.record() if isinstance(current, Row) else current
                    if not touch.due(record, now):
                        return record
                record = record.copy()
                record.last_active = now
                record.expires_at = touch.deadline(record, now)
                self._records[key] = record
                self._keep_whole(key)
                entry = (record.expires_at, key)  # one tuple for both heaps (memory, #16)
                heapq.heappush(self._heap, entry)
                if record.user_id is None:
                    heapq.heappush(self._anon, entry)
        return record

    def load_handle(self, handle: str, now: float) -> Record | None:
        key = self._handles.get(handle)
        return None if key is None else self.load(key, now)

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        ok = True
        evicted: list[str] = []
        with self._lock:
            self._sweep(now, SWEEP_BATCH)
            if any(self._too_large(op, now) for op in ops):
                return ApplyResult(False, (), True)  # nothing applied
            for op in ops:
                if isinstance(op, Patch):
                    ok = self._patch(op, now) and ok
                elif isinstance(op, Create):
                    ok = self._create(op, now, evicted) and ok
                else:
                    self._delete(op)
        if ok and not evicted:
            return APPLIED
        return ApplyResult(ok, tuple(evicted))

    def by_user(self, user_id: str, now: float) -> list[Record]:
        with self._lock:
            keys = self._users.get(user_id)
            if not keys:
                return []
            live = []
            for key in list(keys):
                record = self._records.get(key)
                if record is None or record.expires_at <= now:
                    self._remove(key)
                else:
                    live.append(record.record() if isinstance(record, Row) else record)
        live.sort(key=lambda r: r.created_at)
        return live

    def sweep(self, now: float) -> int:
        """Remove every expired record now; returns how many were removed."""
        with self._lock:
            return self._sweep(now, None)

    def load_ending(self, key: str, now: float) -> Tombstone | None:
        tomb = self._tombs.get(key)
        return tomb if tomb is not None and tomb.until > now else None

    def erase_endings(self, user_id: str) -> int:
        with self._lock:
            doomed = [k for k, t in self._tombs.items() if t.user_id == user_id]
            for key in doomed:
                del self._tombs[key]
        return len(doomed)

    def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        """Live sessions (expired ones are swept first)."""
        with self._lock:
            self._sweep(time.time(), None)
            return len(self._records)

    # -- async face: the same work, no I/O to await ----------------------------

    async def aload(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        if touch is None:  # keeps subclasses that override load(key, now) working
            return self.load(key, now)
        return self.load(key, now, touch)

    async def aload_handle(self, handle: str, now: float) -> Record | None:
        return self.load_handle(handle, now)

    async def aload_ending(self, key: str, now: float) -> Tombstone | None:
        return self.load_ending(key, now)

    async def aerase_endings(self, user_id: str) -> int:
        return self.erase_endings(user_id)

    async def aapply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        return self.apply(ops, now)

    async def aby_user(self, user_id: str, now: float) -> list[Record]:
        return self.by_user(user_id, now)

    async def aclose(self) -> None:
        """Nothing to release."""

    # -- internals (lock held) ---------------------------------------------------

    def _create(self, op: Create, now: float, evicted: list[str]) -> bool:
        record = op.record
        current = self._records.get(record.key)
        if current is not None and current.expires_at > now:
            return False  # never overwrite (ID-05)
        if op.replaces is not None:
            old = self._records.get(op.replaces)
            if old is None or old.expires_at <= now:
                return False
            record = record.copy()
            if op.carry:  # the replaced record's data as stored now, with this request's changes
                record.data = op.carried((old.record() if isinstance(old, Row) else old).data)
        else:
            if len(self._records) >= self.max_entries:
                self._sweep(now, None)
                self._make_room()
            record = record.copy()
        # Successor, then the old ID's tombstone, then the old record: readers take
        # no lock, and one arriving mid-rotation must find either the old record
        # or the tombstone and its successor, never neither (FX-07).
        self._store(record)
        if op.keep_for is not None and record.user_id is not None:
            self._bury(companion(record, op.keep_for))
        if op.replaces is not None:
            if op.tombstone is not None:
                self._bury(op.tombstone)
            self._remove(op.replaces)
        if op.max_per_user is not None and record.user_id is not None:
            victims = self._limit_user(record.user_id, op.max_per_user, now)
            for victim in victims:
                if op.keep_for is not None:
                    self._bury(ended(victim, "evicted", now, op.keep_for, by="limit"))
            evicted.extend(v.handle for v in victims)
        return True

    def _delete(self, op: Delete) -> None:
        if op.tombstone is not None:
            self._bury(op.tombstone)  # first: a lock-free reader never sees neither
            self._remove(op.key)
            return
        self._remove(op.key)
        if (tomb := self._tombs.get(op.key)) is not None and tomb.reason == "expiry":
            del self._tombs[op.key]  # ended for no recorded reason: not an expiry

    def _bury(self, tomb: Tombstone) -> None:
        tombs = self._tombs
        tombs.pop(tomb.key, None)
        if self.max_tombstones:
            tombs[tomb.key] = tomb
        while len(tombs) > self.max_tombstones:
            tombs.popitem(last=False)

    def _make_room(self) -> None:
        """Evict anonymous records closest to expiry until one more fits, or refuse."""
        anon, records = self._anon, self._records
        while len(records) >= self.max_entries:
            if not anon:
                raise StoreFull(
                    f"MemoryBackend holds {len(records)} signed-in sessions (max_entries); "
                    "none is evicted for a new one"
                )
            deadline, key = heapq.heappop(anon)
            victim = records.get(key)
            if victim is not None and victim.user_id is None and victim.expires_at == deadline:
                self._remove(key)  # a stale entry means a later deadline is queued

    def _too_large(self, op: Op, now: float) -> bool:
        """True when ``op`` would push the data it writes past ``op.max_bytes``.

        A patch is measured on its own record; a carrying rotation on the
        record it replaces, whose data it carries over (:func:`cap_key`).
        """
        key = cap_key(op)
        if key is None:
            return False
        assert not isinstance(op, Delete) and op.max_bytes is not None
        current = self._records.get(key)
        if current is None or current.expires_at <= now:
            return False  # the op fails as missing anyway
        data = dict((current.record() if isinstance(current, Row) else current).data)
        data.update(op.set)
        for name in op.delete:
            data.pop(name, None)
        return data_size(data) > op.max_bytes

    def _patch(self, op: Patch, now: float) -> bool:
        current = self._records.get(op.key)
        if current is None or current.expires_at <= now:
            return False
        base = current.record() if isinstance(current, Row) else current
        extra = base.extra
        for name, value in op.expect.items():
            if extra.get(name) != value:
                return False
        record = base.copy() if base is current else base
        if op.set:
            record.data.update(op.set)
        for name in op.delete:
            record.data.pop(name, None)
        for name, value in op.meta.items():
            setattr(record, name, value)
        if op.extra:
            record.extra.update(op.extra)
        old_user = current.user_id
        self._records[op.key] = record
        self._keep_whole(op.key)
        if record.expires_at != current.expires_at:
            entry = (record.expires_at, op.key)  # one tuple for both heaps (memory, #16)
            heapq.heappush(self._heap, entry)
            if record.user_id is None:
                heapq.heappush(self._anon, entry)
        if record.user_id != old_user:
            self._unindex_user(old_user, op.key)
            if record.user_id is not None:
                self._users.setdefault(record.user_id, set()).add(op.key)
        return True

    def _thaw(self, key: str, row: Row) -> Record:
        """The whole record of a compact one, stored whole again while it is in use."""
        record = row.record()
        with self._lock:
            if self._records.get(key) is row:  # not replaced meanwhile
                self._records[key] = record
                self._keep_whole(key)
        return record

    def _keep_whole(self, key: str) -> None:
        """Note ``key`` as stored whole; compact the oldest whole one past HOT_ENTRIES."""
        whole = self._whole
        whole.pop(key, None)
        whole[key] = None
        if len(whole) > HOT_ENTRIES:
            oldest = next(iter(whole))
            del whole[oldest]
            record = self._records.get(oldest)
            if isinstance(record, Record):
                self._records[oldest] = Row.of(record) or record

    def _store(self, record: Record) -> None:
        self._records[record.key] = record
        self._keep_whole(record.key)
        self._handles[record.handle] = record.key
        entry = (record.expires_at, record.key)  # one tuple for both heaps (memory, #16)
        heapq.heappush(self._heap, entry)
        if record.user_id is not None:
            self._users.setdefault(record.user_id, set()).add(record.key)
        else:
            heapq.heappush(self._anon, entry)

    def _remove(self, key: str) -> None:
        self._whole.pop(key, None)
        record = self._records.pop(key, None)
        if record is None:
            return
        if self._handles.get(record.handle) == key:
            del self._handles[record.handle]
        self._unindex_user(record.user_id, key)

    def _unindex_user(self, user_id: str | None, key: str) -> None:
        if user_id is None:
            return
        keys = self._users.get(user_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._users[user_id]

    def _limit_user(self, user_id: str, limit: int, now: float) -> list[Record]:
        records = [self._records[k] for k in self._users.get(user_id, ())]
        live = sorted((r for r in records if r.expires_at > now), key=lambda r: r.created_at)
        for record in records:
            if record.expires_at <= now:
                self._remove(record.key)
        victims = live[: max(0, len(live) - limit)]
        for record in victims:
            self._remove(record.key)
        return [v.record() if isinstance(v, Row) else v for v in victims]

    def _sweep(self, now: float, budget: int | None) -> int:
        heap, records = self._heap, self._records
        removed = 0
        tombs = self._tombs
        for _ in range(4 if budget is not None else len(tombs)):
            # Oldest first; ``until`` is not monotonic, so this only trims the head.
            if not tombs:
                break
            key, tomb = next(iter(tombs.items()))
            if tomb.until > now:
                break
            del tombs[key]
        while heap and heap[0][0] <= now and (budget is None or budget > 0):
            _, key = heapq.heappop(heap)
            if budget is not None:
                budget -= 1
            record = records.get(key)
            if record is not None and record.expires_at <= now:
                self._remove(key)
                removed += 1
        if len(heap) > 2 * len(records) + 1024:
            # Touches leave stale heap entries behind; rebuild before they pile up.
            self._heap = [(r.expires_at, k) for k, r in records.items()]
            heapq.heapify(self._heap)
        if len(self._anon) > 2 * len(records) + 1024:
            self._anon = [(r.expires_at, k) for k, r in records.items() if r.user_id is None]
            heapq.heapify(self._anon)
        return removed
