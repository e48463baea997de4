"""SessionManager: list and revoke a user's sessions on any backend.

Works through the backend protocol only (``by_user``, ``load_handle``,
``apply``), so admin code, the CLI and the demo need nothing but a backend.
Revocation deletes the record: the next request on any worker that presents
that session's cookie finds nothing and is anonymous (TM-03).  Each session
ended this way is a ``revoked`` event (AN-04), logged and handed to
``on_event``, so an admin action leaves the same trail as a logout.

On a backend that keeps tombstones, a revocation also leaves one, saying who
asked (``by=``: ``"user"`` for the user's own "sign out everywhere",
``"admin"``, or the app's own label), so that cookie's next request reads
``session.end_reason == "revoked"`` and ``session.ended_by``.  A tombstone
keeps the session's handle, user ID, end time, reason and ``by`` (never an
ID) for at most ``tombstone_timeout``; :meth:`SessionManager.erase_endings`
removes a user's at once (account deletion).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from .backends.base import Backend, TombstoneBackend
from .config import Duration, as_seconds
from .events import Event, EventSink, emit
from .records import Delete, Record, ended

__all__ = ["SessionInfo", "SessionManager"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live session as shown to its user or an admin (never the ID)."""

    handle: str
    user_id: str | None
    created_at: float
    last_active: float
    auth_time: float | None
    expires_at: float
    remember: bool
    ip: str
    agent: str
    kind: str
    #: The absolute deadline (Unix time): the session ends then, however active.
    #: ``expires_at`` is the nearer of it and the idle deadline at the last write.
    absolute_at: float = 0.0

    @classmethod
    def from_record(cls, record: Record) -> SessionInfo:
        return cls(
            handle=record.handle,
            user_id=record.user_id,
            created_at=record.created_at,
            last_active=record.last_active,
            auth_time=record.auth_time,
            expires_at=record.expires_at,
            remember=record.remember,
            ip=record.info.get("ip", ""),
            agent=record.info.get("agent", ""),
            kind=str(record.extra.get("kind", "cookie")),
            absolute_at=record.absolute_at,
        )


class SessionManager:
    """User-level session management with sync and async twins.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Callable[[], float] = time.time,
        on_event: EventSink | None = None,
        tombstone_timeout: Duration = 7 * 24 * 3600,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.on_event = on_event
        self.keep_for = as_seconds("tombstone_timeout", tombstone_timeout) or 0.0

    def _ops(self, records: list[Record], by: str) -> list[Delete]:
        now = self.clock()
        return [
            Delete(r.key, ended(r, "revoked", now, self.keep_for, by=by) if r.user_id else None)
            for r in records
        ]

    def _revoked(self, records: list[Record], how: str, by: str) -> None:
        now = self.clock()
        for record in records:
            detail = {"by": how, "requested_by": by}
            emit(Event("revoked", None, record.handle, record.user_id, detail, now), self.on_event)

    def erase_endings(self, user_id: str) -> int:
        """Forget every tombstone of ``user_id`` (account deletion); returns how many.

        .. versionadded:: 0.2
        """
        if not getattr(self.backend, "keeps_tombstones", False):
            return 0
        return cast(TombstoneBackend, self.backend).erase_endings(str(user_id))

    async def aerase_endings(self, user_id: str) -> int:
        if not getattr(self.backend, "keeps_tombstones", False):
            return 0
        return await cast(TombstoneBackend, self.backend).aerase_endings(str(user_id))

    def list_sessions(self, user_id: str) -> list[SessionInfo]:
        """Every live session of ``user_id``, oldest first (TM-02)."""
        return [
            SessionInfo.from_record(r) for r in self.backend.by_user(str(user_id), self.clock())
        ]

    async def alist_sessions(self, user_id: str) -> list[SessionInfo]:
        records = await self.backend.aby_user(str(user_id), self.clock())
        return [SessionInfo.from_record(r) for r in records]

    def revoke(self, handle: str, *, by: str = "admin") -> bool:
        """End the session with this handle; False when it no longer exists.

        ``by`` says who asked; it becomes that cookie's ``session.ended_by``.

        .. versionchanged:: 0.2 ``by``.
        """
        record = self.backend.load_handle(handle, self.clock())
        if record is None:
            return False
        self.backend.apply(self._ops([record], by), self.clock())
        self._revoked([record], "revoke", by)
        return True

    async def arevoke(self, handle: str, *, by: str = "admin") -> bool:
        record = await self.backend.aload_handle(handle, self.clock())
        if record is None:
            return False
        await self.backend.aapply(self._ops([record], by), self.clock())
        self._revoked([record], "revoke", by)
        return True

    def revoke_user(self, user_id: str, *, keep: str | None = None, by: str = "admin") -> int:
        """End every session of ``user_id`` except ``keep`` ("log out everywhere else").

        .. versionchanged:: 0.2 ``by`` (pass ``by="user"`` for the user's own request).
        """
        records = [r for r in self.backend.by_user(str(user_id), self.clock()) if r.handle != keep]
        if records:
            self.backend.apply(self._ops(records, by), self.clock())
            self._revoked(records, "revoke_user", by)
        return len(records)

    async def arevoke_user(
        self, user_id: str, *, keep: str | None = None, by: str = "admin"
    ) -> int:
        records = await self.backend.aby_user(str(user_id), self.clock())
        records = [r for r in records if r.handle != keep]
        if records:
            await self.backend.aapply(self._ops(records, by), self.clock())
            self._revoked(records, "revoke_user", by)
        return len(records)
