"""SessionManager: list and revoke a user's sessions on any backend.

Works through the backend protocol only (``by_user``, ``load_handle``,
``apply``), so admin code, the CLI and the demo need nothing but a backend.
Revocation deletes the record: the next request on any worker that presents
that session's cookie finds nothing and is anonymous (TM-03).  Each session
ended this way is a ``revoked`` event (AN-04), logged and handed to
``on_event``, so an admin action leaves the same trail as a logout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .backends.base import Backend
from .events import Event, EventSink, emit
from .records import Delete, Record

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
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.on_event = on_event

    def _revoked(self, records: list[Record], how: str) -> None:
        now = self.clock()
        for record in records:
            detail = {"by": how}
            emit(Event("revoked", None, record.handle, record.user_id, detail, now), self.on_event)

    def list_sessions(self, user_id: str) -> list[SessionInfo]:
        """Every live session of ``user_id``, oldest first (TM-02)."""
        return [
            SessionInfo.from_record(r) for r in self.backend.by_user(str(user_id), self.clock())
        ]

    async def alist_sessions(self, user_id: str) -> list[SessionInfo]:
        records = await self.backend.aby_user(str(user_id), self.clock())
        return [SessionInfo.from_record(r) for r in records]

    def revoke(self, handle: str) -> bool:
        """End the session with this handle; False when it no longer exists."""
        record = self.backend.load_handle(handle, self.clock())
        if record is None:
            return False
        self.backend.apply([Delete(record.key)], self.clock())
        self._revoked([record], "revoke")
        return True

    async def arevoke(self, handle: str) -> bool:
        record = await self.backend.aload_handle(handle, self.clock())
        if record is None:
            return False
        await self.backend.aapply([Delete(record.key)], self.clock())
        self._revoked([record], "revoke")
        return True

    def revoke_user(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of ``user_id`` except ``keep`` ("log out everywhere else")."""
        records = [r for r in self.backend.by_user(str(user_id), self.clock()) if r.handle != keep]
        if records:
            self.backend.apply([Delete(r.key) for r in records], self.clock())
            self._revoked(records, "revoke_user")
        return len(records)

    async def arevoke_user(self, user_id: str, *, keep: str | None = None) -> int:
        records = await self.backend.aby_user(str(user_id), self.clock())
        records = [r for r in records if r.handle != keep]
        if records:
            await self.backend.aapply([Delete(r.key) for r in records], self.clock())
            self._revoked(records, "revoke_user")
        return len(records)
