"""Commit planning: what the app did to a session, as backend ops and a cookie.

The engine (:mod:`sessionware.core`) screens the request and resumes the
session; once the app has run, :meth:`Planner.plan` turns the session's
seam (intent, changes, the record it resumed; see
:class:`~sessionware.session.Session`) into the ops of one ``apply`` call
and the ``Set-Cookie`` header, following the invariants numbered in
:mod:`sessionware.core` (rules 4 to 8 are decided here).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from .agents import describe_agent
from .config import SessionConfig
from .cookies import CookieWriter, read_session_cookies
from .endings import bury, keep_for
from .errors import SessionDataTooLarge
from .events import Event
from .facts import RequestFacts
from .fingerprint import fingerprint
from .ids import IdCodec, new_handle, new_id
from .records import Create, Delete, Op, Patch, Record, Tombstone, data_size, entry_size
from .session import Session

__all__ = ["ENDED_MEMORY", "Plan", "Planner"]

#: How many recently logged-out sessions each engine remembers for replay events.
ENDED_MEMORY = 4096


@dataclass(slots=True)
class Plan:
    """The ops of one commit and the cookie to send if they apply (or if they fail)."""

    ops: list[Op] = field(default_factory=list)
    cookie: str | None = None
    events: list[Event] = field(default_factory=list)
    failed_cookie: str | None = None


class Planner:
    """Plans commits for one config; holds no per-request state."""

    def __init__(
        self,
        config: SessionConfig,
        ids: IdCodec,
        cookies: CookieWriter,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.ids = ids
        self.cookies = cookies
        self.clock = clock
        # Storage keys of sessions this process ended recently, so a replayed
        # logged-out cookie is reported as such rather than as an unknown ID.
        self.ended: OrderedDict[str, None] = OrderedDict()

    def remember_ended(self, key: str) -> None:
        # equivalent: only membership is read, never the value
        self.ended[key] = None  # pragma: no mutate
        if len(self.ended) > ENDED_MEMORY:
            self.ended.popitem(last=False)

    def due(self, record: Record) -> bool:
        now = self.clock()
        if now - record.last_active >= self.config.touch_s:
            return True
        return self.renew_due(record, now)

    def renew_due(self, record: Record, now: float) -> bool:
        renew = self.config.renew_s
        if renew is None:
            return False
        rotated = record.extra.get("rotated_at", record.created_at)
        return bool(now - float(rotated) >= renew)

    def plan(self, session: Session, facts: RequestFacts) -> Plan:
        plan = Plan()
        rec = session.record
        intent = session.intent
        now = self.clock()
        if intent in ("logout", "clear"):
            if rec is not None:
                # clear() of a signed-in session is how Starlette apps log out.
                plan.ops.append(Delete(rec.key, bury(self.config, rec, "logout", now)))
                if intent == "logout":
                    plan.events.append(Event("logout", facts.client, rec.handle, rec.user_id))
                    self.remember_ended(rec.key)
            elif session.storage_key is not None:
                plan.ops.append(Delete(session.storage_key, _buried(session)))
            if len(session):
                # Cleared, then written again (a flash message after logout):
                # a fresh session under a fresh ID carries only the new data.
                record, session_id = self._new_record(session, facts, now, None, False)
                plan.ops.append(Create(record))
                plan.cookie = self._cookie_for(record, session_id, now)
                plan.events.append(Event("created", facts.client, record.handle))
            elif rec is not None or session.presented:
                plan.cookie = self.cookies.delete()
            return plan
        if intent == "login":
            self._plan_login(session, facts, now, plan)
            return plan
        if rec is None:
            if session.storage_key is not None and not session.store_unavailable:
                # an expired record: purge it now, keeping why it ended
                plan.ops.append(Delete(session.storage_key, _buried(session)))
            ending = session.ending
            if ending is not None and ending.revoke is not None:
                self._revoke_successor(ending.revoke, facts, now, plan)
            if session.modified and len(session):
                remember = bool(session.want_remember)
                record, session_id = self._new_record(session, facts, now, None, remember)
                plan.ops.append(Create(record))
                plan.cookie = self._cookie_for(record, session_id, now)
                plan.events.append(Event("created", facts.client, record.handle))
            elif session.presented and not session.store_unavailable:
                plan.cookie = self.cookies.delete()  # a dead cookie: tell the browser to drop it
            return plan
        if intent == "regenerate" or self.renew_due(rec, now):
            self._plan_rotation(session, rec, facts, now, plan, intent == "regenerate")
            return plan
        changed, deleted = session.changes()
        if not len(session) and rec.user_id is None and (changed or deleted):
            # Starlette semantics: an emptied anonymous session ends.
            plan.ops.append(Delete(rec.key))
            plan.cookie = self.cookies.delete()
            return plan
        if changed and changed != session.assigned:
            # A nested change (including to a value assigned in this request,
            # ``session["cart"] = []`` then ``.append(x)``) was never measured.
            self._check_size(session, changed)
        # equivalent: reassigned in the branch below before it is ever read
        meta: dict[str, float] = {}  # pragma: no mutate
        flip = session.want_remember is not None and session.want_remember != rec.remember
        if changed or deleted or flip or now - rec.last_active >= self.config.touch_s:
            meta = {
                "last_active": now,
                "expires_at": self._deadline(rec.remember, now, rec.absolute_at),
            }
            if flip:
                remember = bool(session.want_remember)
                # Flask's ``session.permanent`` flipped: the limits and the cookie follow.
                meta["remember"] = remember
                meta["expires_at"] = self._deadline(remember, now, rec.absolute_at)
                plan.cookie = self._resend(rec, facts, meta["expires_at"], remember, now, True)
            elif self._slides(rec.remember):
                # The server-side expiry slid: renew the persistent cookie's Max-Age with it.
                plan.cookie = self._resend(rec, facts, meta["expires_at"], rec.remember, now)
            # The store re-checks the cap atomically: concurrent requests writing
            # distinct keys each pass the check above, but not together.
            cap = self.config.max_data_bytes if changed else None
            plan.ops.append(Patch(rec.key, set=changed, delete=deleted, meta=meta, max_bytes=cap))
            plan.failed_cookie = self.cookies.delete()
        return plan

    def _slides(self, remember: bool) -> bool:
        """Whether this session's cookie Max-Age follows its sliding expiry."""
        mode = self.config.cookie_lifetime
        return mode == "always" or (remember and mode == "sliding")

    def _resend(
        self,
        rec: Record,
        facts: RequestFacts,
        expires_at: float,
        remember: bool,
        now: float,
        # equivalent: the only call without it slides, so max_age is never None there
        always: bool = False,  # pragma: no mutate
    ) -> str | None:
        """The presented cookie again, with the Max-Age this session now has."""
        values = read_session_cookies(facts.cookie or "", self.config.cookie_name)
        if len(values) != 1:
            return None
        if self._slides(remember):
            max_age: float | None = expires_at - now
        elif remember:
            max_age = rec.absolute_at - now
        else:
            max_age = None
        if max_age is None and not always:
            return None
        return self.cookies.set(values[0], max_age=max_age)

    def _plan_login(self, session: Session, facts: RequestFacts, now: float, plan: Plan) -> None:
        assert session.pending_login is not None
        user_id, remember = session.pending_login
        remember = remember or bool(session.want_remember)
        record, session_id = self._new_record(session, facts, now, user_id, remember)
        record.auth_time = now
        old = session.record.key if session.record is not None else session.storage_key
        if old is not None and not session.store_unavailable:
            # Before the Create: the session being replaced must not count against
            # max_sessions_per_user, or a re-login evicts one of the user's other
            # sessions.  Both ops go in one apply(), so no request sees the gap.
            prior = session.record
            tomb = _buried(session)  # an expired or unbound session keeps why it ended
            if prior is not None:
                tomb = bury(self.config, prior, "rotated", now, successor=record.key)
            plan.ops.append(Delete(old, tomb))
        plan.ops.append(
            Create(
                record,
                max_per_user=self.config.max_sessions_per_user,
                keep_for=keep_for(self.config, user_id),
            )
        )
        plan.cookie = self._cookie_for(record, session_id, now)
        plan.events.append(Event("login", facts.client, record.handle, user_id))

    def _plan_rotation(
        self,
        session: Session,
        rec: Record,
        facts: RequestFacts,
        now: float,
        plan: Plan,
        explicit: bool,
    ) -> None:
        data = dict(rec.data)
        changed, deleted = session.changes()
        data.update(changed)
        for key in deleted:
            data.pop(key, None)
        size = data_size(data) if changed else 0  # unchanged data was stored as it is
        if size > self.config.max_data_bytes:  # regenerate() / renewal carry every change too
            raise SessionDataTooLarge(size, self.config.max_data_bytes)
        session_id = new_id()
        record = Record(
            key=self.ids.storage_key(session_id),
            handle=rec.handle,
            created_at=rec.created_at,
            last_active=now,
            expires_at=self._deadline(rec.remember, now, rec.absolute_at),
            absolute_at=rec.absolute_at,
            user_id=rec.user_id,
            auth_time=rec.auth_time,
            remember=rec.remember,
            data=data,
            info=dict(rec.info),
            extra={**rec.extra, "rotated_at": now},
        )
        tomb = bury(self.config, rec, "rotated", now, successor=record.key, renewal=not explicit)
        # The store rebuilds the data from what is stored at rec.key when the
        # rotation applies, so a parallel request's write to another key
        # survives (#18); ``data`` above is for stores that predate ``carry``.
        plan.ops.append(
            Create(
                record,
                replaces=rec.key,
                tombstone=tomb,
                keep_for=keep_for(self.config, rec.user_id),
                carry=True,
                set=changed,
                delete=deleted,
                max_bytes=self.config.max_data_bytes if changed else None,
            )
        )
        plan.cookie = self._cookie_for(record, session_id, now)
        # A renewal that lost a race to a parallel request's renewal keeps its
        # cookie: the winner's response carries the new one, and the old ID
        # serves the successor for rotation_grace (FX-07).  Its own writes in
        # that request are not saved (the old record is gone).
        plan.failed_cookie = self.cookies.delete() if explicit else None
        kind = "regenerated" if explicit else "renewed"
        plan.events.append(Event(kind, facts.client, rec.handle, rec.user_id))

    def _revoke_successor(
        self, successor: Record, facts: RequestFacts, now: float, plan: Plan
    ) -> None:
        """Stale reuse under ``on_stale_reuse="revoke"``: both holders are signed out."""
        tomb = bury(self.config, successor, "revoked", now, by="stale_reuse")
        plan.ops.append(Delete(successor.key, tomb))
        detail = {"by": "stale_reuse"}
        plan.events.append(
            Event("revoked", facts.client, successor.handle, successor.user_id, detail)
        )

    def _new_record(
        self, session: Session, facts: RequestFacts, now: float, user_id: str | None, remember: bool
    ) -> tuple[Record, str]:
        session_id = new_id()
        absolute_at = now + self.config.absolute_for(remember)
        data = session.encoded()
        self._check_size(session, data)
        return Record(
            key=self.ids.storage_key(session_id),
            handle=session.next_handle or new_handle(),
            created_at=now,
            last_active=now,
            expires_at=self._deadline(remember, now, absolute_at),
            absolute_at=absolute_at,
            user_id=user_id,
            remember=remember,
            data=data,
            info=_info(facts, user_id),
        ), session_id

    def _cookie_for(self, record: Record, session_id: str, now: float) -> str:
        max_age: float | None = None
        if self._slides(record.remember):
            max_age = record.expires_at - now
        elif record.remember:
            max_age = record.absolute_at - now
        return self.cookies.set(self.ids.sign(session_id), max_age=max_age)

    def _deadline(self, remember: bool, now: float, absolute_at: float) -> float:
        return min(now + self.config.idle_for(remember), absolute_at)

    def _check_size(self, session: Session, changed: dict[str, str]) -> None:
        size = 0
        assigned, loaded = session.assigned, session.loaded_texts
        for key in session:
            text = changed.get(key) or assigned.get(key) or loaded.get(key, "")
            size += entry_size(key, text)
        if size > self.config.max_data_bytes:
            raise SessionDataTooLarge(size, self.config.max_data_bytes)


def _buried(session: Session) -> Tombstone | None:
    return None if session.ending is None else session.ending.bury


def _info(facts: RequestFacts, user_id: str | None) -> dict[str, str]:
    info = {"ip": facts.client or "", "agent": describe_agent(facts.user_agent)}
    if user_id is not None:
        info["fp"] = fingerprint(facts.client, facts.user_agent)  # binding starts at login
    return info
