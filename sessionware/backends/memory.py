"""MemoryBackend: the embedded default, bounded and thread-safe.

Good for one process (tests, small apps, the demo).  Memory is bounded two
ways (RS-04): expired records are swept from a min-heap of deadlines in
amortized O(expired) work, a little on every write, never by a full scan;
and at most ``max_entries`` records are kept, evicting the ones closest to
expiry first when a new session would exceed it.

Stored records are never changed in place: a patch stores a fresh copy.  So
``load`` can hand out the stored object itself without copying, and a reader
never sees a half-applied patch.  One lock guards every structure; the async
face takes the same lock (critical sections are a few microseconds, no I/O).

Memory (issue #16): only the ``HOT_ENTRIES`` records written or read most
recently are kept as :class:`~sessionware.records.Record` objects; older
ones are stored compactly (:class:`_Row`: a small tuple around one
:mod:`marshal` blob instead of an object, three dicts and a str object per
value), about half the memory.  A compact record is decoded back to an
equal ``Record`` when it is next read.
"""

from __future__ import annotations

import heapq
import marshal
import threading
import time
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from ..records import APPLIED, ApplyResult, Create, Op, Patch, Record, Touch

__all__ = ["MemoryBackend"]

#: Heap entries popped per write; keeps the sweep's cost per request bounded.
SWEEP_BATCH = 32
#: Records kept whole (the most recently written or read); the rest are compact.
HOT_ENTRIES = 1024


def _field(index: int) -> Any:
    return property(itemgetter(index), doc=f"Item {index} of the row.")


class _Row(tuple[Any, ...]):
    """A record stored compactly: ``(key, handle, expires_at, user_id, packed)``.

    What the indexes, the sweep and eviction read stays a plain item (so they
    read a row as they read a record); everything else is one
    :mod:`marshal` blob, which costs a few bytes per string where a str
    object costs about 50, and two dicts cost 350.  :meth:`record` decodes it
    (about 2 us), which happens only when a compact record is read again.
    The blob is only ever one this process packed itself, never outside
    input, which is what makes :mod:`marshal` safe here.
    """

    __slots__ = ()

    key: str = _field(0)
    handle: str = _field(1)
    expires_at: float = _field(2)
    user_id: str | None = _field(3)

    @classmethod
    def of(cls, r: Record) -> _Row | None:
        """The compact form of ``r``, or None when some value cannot be packed."""
        fields: list[Any] = [r.created_at, r.last_active, r.absolute_at, r.auth_time]
        fields += (r.remember, r.extra or None, len(r.data))
        fields.extend(chain.from_iterable(r.data.items()))
        fields.extend(chain.from_iterable(r.info.items()))
        try:
            packed = marshal.dumps(tuple(fields))
        except ValueError:  # a str subclass or an odd extra value: keep the record whole
            return None
        return cls((r.key, r.handle, r.expires_at, r.user_id, packed))

    @property
    def created_at(self) -> float:
        return float(marshal.loads(self[4])[0])  # noqa: S302 - our own bytes

    def record(self) -> Record:
        """An equal :class:`Record` with dicts of its own."""
        packed = marshal.loads(self[4])  # noqa: S302 - bytes this process packed
        created, last, absolute, auth, remember, extra, n, *pairs = packed
        end = 2 * n
        return Record(
            self[0],
            self[1],
            created,
            last,
            self[2],
            absolute,
            self[3],
            auth,
            remember,
            dict(zip(pairs[:end:2], pairs[1:end:2], strict=True)),
            dict(zip(pairs[end::2], pairs[end + 1 :: 2], strict=True)),
            extra or {},
        )


class MemoryBackend:
    """Sessions in a dict, for a single process.

    :param max_entries: the most records kept at once; a new session beyond
        it evicts the record closest to expiry.

    .. versionadded:: 0.1
    """

    def __init__(self, *, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._records: dict[str, Record | _Row] = {}
        #: Keys stored as whole Records, oldest first (see HOT_ENTRIES).
        self._whole: dict[str, None] = {}
        self._handles: dict[str, str] = {}
        self._users: dict[str, set[str]] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    # -- sync face -----------------------------------------------------------

    #: ``load`` accepts a :class:`~sessionware.records.Touch` (see the protocol).
    touches_on_load = True

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        stored = self._records.get(key)
        if stored is None or stored.expires_at <= now:
            return None
        record = self._thaw(key, stored) if isinstance(stored, _Row) else stored
        if touch is not None and touch.due(record, now):
            with self._lock:
                current = self._records.get(key)
                if current is None or current.expires_at <= now:
                    return None
                if current is not record:  # changed meanwhile: touch what is there now
                    record = current.record() if isinstance(current, _Row) else current
                    if not touch.due(record, now):
                        return record
                record = record.copy()
                record.last_active = now
                record.expires_at = touch.deadline(record, now)
                self._records[key] = record
                self._keep_whole(key)
                heapq.heappush(self._heap, (record.expires_at, key))
        return record

    def load_handle(self, handle: str, now: float) -> Record | None:
        key = self._handles.get(handle)
        return None if key is None else self.load(key, now)

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        ok = True
        evicted: list[str] = []
        with self._lock:
            self._sweep(now, SWEEP_BATCH)
            for op in ops:
                if isinstance(op, Patch):
                    ok = self._patch(op, now) and ok
                elif isinstance(op, Create):
                    ok = self._create(op, now, evicted) and ok
                else:
                    self._remove(op.key)
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
                    live.append(record.record() if isinstance(record, _Row) else record)
        live.sort(key=lambda r: r.created_at)
        return live

    def sweep(self, now: float) -> int:
        """Remove every expired record now; returns how many were removed."""
        with self._lock:
            return self._sweep(now, None)

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
            self._remove(op.replaces)
        elif len(self._records) >= self.max_entries:
            self._sweep(now, None)
            while len(self._records) >= self.max_entries and self._heap:
                deadline, key = heapq.heappop(self._heap)
                victim = self._records.get(key)
                if victim is not None and victim.expires_at == deadline:
                    self._remove(key)  # a stale entry means a later deadline is queued
        record = record.copy()
        self._store(record)
        if op.max_per_user is not None and record.user_id is not None:
            evicted.extend(self._limit_user(record.user_id, op.max_per_user, now))
        return True

    def _patch(self, op: Patch, now: float) -> bool:
        current = self._records.get(op.key)
        if current is None or current.expires_at <= now:
            return False
        base = current.record() if isinstance(current, _Row) else current
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
            heapq.heappush(self._heap, (record.expires_at, op.key))
        if record.user_id != old_user:
            self._unindex_user(old_user, op.key)
            if record.user_id is not None:
                self._users.setdefault(record.user_id, set()).add(op.key)
        return True

    def _thaw(self, key: str, row: _Row) -> Record:
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
                self._records[oldest] = _Row.of(record) or record

    def _store(self, record: Record) -> None:
        self._records[record.key] = record
        self._keep_whole(record.key)
        self._handles[record.handle] = record.key
        heapq.heappush(self._heap, (record.expires_at, record.key))
        if record.user_id is not None:
            self._users.setdefault(record.user_id, set()).add(record.key)

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

    def _limit_user(self, user_id: str, limit: int, now: float) -> list[str]:
        records = [self._records[k] for k in self._users.get(user_id, ())]
        live = sorted((r for r in records if r.expires_at > now), key=lambda r: r.created_at)
        for record in records:
            if record.expires_at <= now:
                self._remove(record.key)
        victims = live[: max(0, len(live) - limit)]
        for record in victims:
            self._remove(record.key)
        return [r.handle for r in victims]

    def _sweep(self, now: float, budget: int | None) -> int:
        heap, records = self._heap, self._records
        removed = 0
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
        return removed
