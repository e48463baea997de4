"""The protocol every session store implements.

A backend is one class with two hand-written faces over one key layout: a
sync face for WSGI (``load``, ``apply``...) and an async face for ASGI
(``aload``, ``aapply``...).  No sync/async bridge sits in the request path.

Contract (checked by ``tests/backends/conformance.py`` on every backend):

1. ``load(key, now)`` returns the record stored at ``key`` or None; never a
   record with ``expires_at <= now`` (EX-05).  It writes nothing, except that
   a backend whose ``touches_on_load`` attribute is true also accepts
   ``load(key, now, touch)`` and then slides a due record's expiry in the
   same round trip (:class:`~sessionware.records.Touch`).
2. ``apply(ops, now)`` applies the ops in order as one unit of work (one round
   trip or one transaction where the store allows) with the semantics of
   :class:`~sessionware.records.Create`, ``Patch`` and ``Delete``.
3. A ``Patch`` sets and deletes data fields individually, so concurrent
   patches to distinct keys both persist (CC-01); same-key writes: last wins.
4. The backend keeps a handle index and a per-user index; ``load_handle``
   and ``by_user`` never return expired records, and index entries of
   expired records are pruned during normal operation (TM-05).
5. Tombstones are optional.  A backend whose ``keeps_tombstones`` attribute
   is true also has ``load_ending(key, now)`` / ``aload_ending`` (the live
   :class:`~sessionware.records.Tombstone` at ``key`` or None) and
   ``erase_endings(user_id)`` / ``aerase_endings``; it stores
   ``Delete.tombstone`` and ``Create.tombstone`` in the same unit of work as
   the op, writes ``companion(record, keep_for)`` with every ``Create`` that
   has ``keep_for``, and an ``"evicted"`` tombstone for each session that
   ``max_per_user`` removes.  Tombstones are never records: ``load``,
   ``load_handle``, ``by_user`` and ``len`` never see them, and each expires
   by itself at ``until``.  A backend without them ignores those fields, and
   an ended session's cookie then reads as an unknown ID.
6. Store failures raise :class:`~sessionware.errors.BackendUnavailable` (or
   another :class:`~sessionware.errors.BackendError`), never a driver error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..records import ApplyResult, Op, Record, Tombstone

__all__ = ["AsyncBackend", "Backend", "SyncBackend", "TombstoneBackend"]


@runtime_checkable
class SyncBackend(Protocol):
    """The blocking face, used by the WSGI adapter and sync management calls."""

    def load(self, key: str, now: float) -> Record | None:
        """The live record at ``key``, or None (see rule 1 for ``touch``)."""

    def load_handle(self, handle: str, now: float) -> Record | None:
        """The live record whose public handle is ``handle``, or None."""

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        """Apply a commit's ops as one unit."""

    def by_user(self, user_id: str, now: float) -> list[Record]:
        """Every live record of ``user_id``, oldest first."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class AsyncBackend(Protocol):
    """The asyncio face, used by the ASGI adapter and ``a``-prefixed calls."""

    async def aload(self, key: str, now: float) -> Record | None:
        """The live record at ``key``, or None."""

    async def aload_handle(self, handle: str, now: float) -> Record | None:
        """The live record whose public handle is ``handle``, or None."""

    async def aapply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        """Apply a commit's ops as one unit."""

    async def aby_user(self, user_id: str, now: float) -> list[Record]:
        """Every live record of ``user_id``, oldest first."""

    async def aclose(self) -> None:
        """Release connections."""


@runtime_checkable
class Backend(SyncBackend, AsyncBackend, Protocol):
    """A store with both faces (every built-in backend)."""


@runtime_checkable
class TombstoneBackend(Protocol):
    """The optional tombstone capability (rule 5): why a session ended.

    Checked with ``getattr(backend, "keeps_tombstones", False)``, like
    ``touches_on_load``, so a backend written for 0.1 keeps working.
    """

    keeps_tombstones: bool

    def load_ending(self, key: str, now: float) -> Tombstone | None:
        """The tombstone stored at ``key`` (not yet at ``until``), or None."""

    async def aload_ending(self, key: str, now: float) -> Tombstone | None:
        """Async twin of :meth:`load_ending`."""

    def erase_endings(self, user_id: str) -> int:
        """Delete every tombstone of ``user_id`` (account deletion); returns how many."""

    async def aerase_endings(self, user_id: str) -> int:
        """Async twin of :meth:`erase_endings`."""
