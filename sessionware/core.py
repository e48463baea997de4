"""The engine: every session decision, with no I/O and no framework.

An adapter drives it in three steps per request::

    begin(facts)                   -> Begin   (reject, anonymous, or a storage key to load)
    resume(begin, record, facts)   -> Session (expiry decided here)
    commit(session, status, facts) -> Commit  (backend ops + headers), then finish()

Invariants (each is tested; the IDs refer to the checklist in the standards):

1. An ID is used only if it carries our signature, its record exists and it
   is within both its idle and absolute limits (strict mode, FX-02, EX-01/02).
   A bad signature never produces a storage key, so it never reaches a backend
   (ID-07).  Everything else is an anonymous session plus an event.
2. IDs come only from the cookie.  A query string or ``;path`` parameter that
   looks like a session ID is a 400 under ``url_id_policy="reject"`` (FX-01).
3. Two or more cookies with our exact name: none is trusted (FX-05).
4. No write, no record, no cookie: a session the app never writes costs
   nothing (RS-01), and reading one writes only when ``touch_interval`` has
   passed (RS-02, EX-06).
5. ``login`` and ``regenerate`` always mint a new ID; the old one dies in the
   same backend call (FX-03).  ``regenerate``/renewal rotate only a record
   that still exists, so nothing revoked in flight comes back (TM-01, CC-03).
6. ``logout``/``clear()`` delete the record and expire the cookie (CK-05).
7. A response with status >= 500 (or an app exception) commits nothing.
8. Commits are patches: set keys, deleted keys, metadata; never the whole
   session over a concurrent writer's keys (CC-01).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from .agents import describe_agent
from .config import SessionConfig
from .cookies import MAX_HEADER, CookieWriter, read_session_cookies
from .errors import SessionDataTooLarge
from .events import Event
from .fingerprint import binding_event, fingerprint
from .ids import IdCodec, new_handle, new_id
from .records import ApplyResult, Create, Delete, Op, Patch, Record
from .session import Session, entry_size

__all__ = ["Begin", "Commit", "Engine", "RequestFacts"]

Header = tuple[str, str]
#: Query/path parameter names that carry session IDs in other stacks (FX-01).
#: How many recently logged-out sessions each engine remembers for replay events.
ENDED_MEMORY = 4096
URL_ID_NAMES = frozenset({"sid", "sessionid", "session_id", "jsessionid", "phpsessid"})


@dataclass(slots=True)
class RequestFacts:
    """What the engine needs to know about a request (built by the adapter).

    Not frozen on purpose: it is built on every request, and a frozen
    dataclass's ``__init__`` goes through ``object.__setattr__`` per field
    (about 2 us here against 0.4 us).  Treat it as read-only.
    """

    method: str = "GET"
    path: str = "/"
    query: str = ""
    cookie: str | None = None
    #: The client after trusted-proxy resolution (what events and counters use).
    client: str | None = None
    user_agent: str = ""
    #: The TCP peer (a proxy, when ``client`` came from forwarding headers).
    peer: str | None = None
    #: ``http``/``https`` (``ws``/``wss``) as the client used it, and its Host.
    scheme: str = "http"
    host: str = ""
    #: CSRF signals (CS-01): the ``Origin`` and ``Sec-Fetch-Site`` headers.
    origin: str | None = None
    sec_fetch_site: str | None = None


@dataclass(frozen=True, slots=True)
class Begin:
    """Outcome of :meth:`Engine.begin`.

    ``status`` set: answer it and stop.  ``key`` set: load that record.
    ``presented``: a session cookie came with the request (so the response
    varies on Cookie, and a dead one gets expired).
    """

    status: int | None = None
    key: str | None = None
    presented: bool = False
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Commit:
    """Outcome of :meth:`Engine.commit`: ops to apply, then :meth:`Engine.finish`."""

    ops: tuple[Op, ...] = ()
    headers: tuple[Header, ...] = ()
    failed: tuple[Header, ...] = ()
    events: tuple[Event, ...] = ()
    sets_cookie: bool = False
    handle: str | None = None


NO_SESSION = Begin()
NOTHING = Commit()
_VARY = ("vary", "Cookie")
_NO_STORE = ("cache-control", "no-store")


@dataclass(slots=True)
class _Plan:
    ops: list[Op] = field(default_factory=list)
    cookie: str | None = None
    events: list[Event] = field(default_factory=list)
    failed_cookie: str | None = None


class Engine:
    """Decides; never performs I/O.  ``clock`` returns Unix seconds (injectable).

    .. versionadded:: 0.1
    """

    def __init__(self, config: SessionConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.ids = IdCodec(config.secrets)
        self.cookies = CookieWriter(config)
        self._name = config.cookie_name
        self._url_names = URL_ID_NAMES | {config.cookie_name.lower()}
        # Storage keys of sessions this process ended recently, so a replayed
        # logged-out cookie is reported as such rather than as an unknown ID.
        self._ended: OrderedDict[str, None] = OrderedDict()

    # -- step 1 --------------------------------------------------------------------

    def begin(self, facts: RequestFacts) -> Begin:
        """Screen the request: URL-borne IDs, duplicate or forged cookies."""
        events: tuple[Event, ...] = ()
        if (facts.query or ";" in facts.path) and self._url_id(facts):
            # Only the path before its ``;`` parameters: they may hold the very ID (AN-04).
            path = facts.path.partition(";")[0]
            event = Event("url_id", facts.client, detail={"path": path})
            if self.config.url_id_policy == "reject":
                return Begin(status=400, events=(event,))
            events = (event,)
        header = facts.cookie
        if not header or self._name not in header:
            return Begin(events=events) if events else NO_SESSION
        if len(header) > MAX_HEADER:
            event = Event("oversized", facts.client, detail={"cookie_bytes": len(header)})
            return Begin(presented=True, events=(*events, event))
        values = read_session_cookies(header, self._name)
        if not values:
            return Begin(events=events) if events else NO_SESSION
        if len(values) > 1:
            event = Event("cookie_tossing", facts.client, detail={"count": len(values)})
            return Begin(presented=True, events=(*events, event))
        verified = self.ids.unsign(values[0])
        if verified is None:
            event = Event("bad_signature", facts.client, detail={"length": len(values[0])})
            return Begin(presented=True, events=(*events, event))
        return Begin(key=self.ids.storage_key(*verified), presented=True, events=events)

    def _url_id(self, facts: RequestFacts) -> bool:
        text = unquote_plus(facts.query).lower()
        names: list[str] = []
        if text and any(n in text for n in self._url_names):
            names.extend(p.partition("=")[0].strip() for p in text.split("&"))
        _, semi, params = facts.path.partition(";")
        if semi:
            names.extend(
                p.partition("=")[0].strip() for p in unquote_plus(params).lower().split(";")
            )
        return any(n in self._url_names for n in names)

    # -- step 2 --------------------------------------------------------------------

    def resume(
        self,
        begin: Begin,
        record: Record | None,
        facts: RequestFacts,
        *,
        read_only: bool = False,
        unavailable: bool = False,
    ) -> Session:
        """The session for this request, with expiry enforced server-side."""
        cfg = self.config
        if record is not None:
            now = self.clock()
            idle_end = record.last_active + cfg.idle_for(record.remember)
            if now >= idle_end or now >= record.absolute_at or now >= record.expires_at:
                session = Session(limit=cfg.max_data_bytes, read_only=read_only)
                session._key = record.key
                session._presented = True
                session._events.append(
                    Event("expired", facts.client, record.handle, record.user_id)
                )
                return session
            if cfg.binding != "off" and "fp" in record.info:
                event = binding_event(record, facts.client, facts.user_agent, cfg.binding)
                if event is not None:
                    return self._mismatch(record, event, read_only)
            session = Session(record, limit=cfg.max_data_bytes, read_only=read_only)
            session._presented = True
            return session
        session = Session(limit=cfg.max_data_bytes, read_only=read_only)
        session._presented = begin.presented
        if begin.key is not None:
            if unavailable:
                session._unavailable = True
                session._events.append(Event("backend_down", facts.client))
            else:
                kind = "logout_replay" if begin.key in self._ended else "unknown_id"
                session._events.append(Event(kind, facts.client))
        return session

    def _mismatch(self, record: Record, event: Event, read_only: bool) -> Session:
        """Binding broke (AN-03); under ``"revoke"`` the session ends like an expired one."""
        limit = self.config.max_data_bytes
        if self.config.binding == "revoke":
            session = Session(limit=limit, read_only=read_only)
            session._key = record.key  # the commit deletes it and expires the cookie
        else:
            session = Session(record, limit=limit, read_only=read_only)
        session._presented = True
        session._events.append(event)
        return session

    # -- step 3 --------------------------------------------------------------------

    def commit(self, session: Session, status: int, facts: RequestFacts) -> Commit:
        """Turn what the app did to ``session`` into backend ops and headers."""
        if status >= 500 or session._read_only:
            return NOTHING
        if not session.modified and not session._presented and not session._events:
            return _VARY_COMMIT if session.accessed else NOTHING  # never had a session
        if (
            not session.modified
            and session._record is not None
            and not self._due(session._record)
            and not (session.accessed and session.mutated())
        ):
            # The hot path: an untouched or read-only existing session.
            return _vary_only(session)
        plan = self._plan(session, facts)
        headers: list[Header] = []
        if session.accessed or session._presented:
            headers.append(_VARY)
        if not plan.ops and plan.cookie is None and not plan.events:
            return Commit(headers=tuple(headers)) if headers else NOTHING
        failed = list(headers)
        if plan.cookie is not None:
            headers += [("set-cookie", plan.cookie), _NO_STORE]
        if plan.failed_cookie is not None:
            failed += [("set-cookie", plan.failed_cookie), _NO_STORE]
        if session._intent == "logout" and self.config.clear_site_data:
            headers.append(("clear-site-data", '"cache", "cookies", "storage"'))
        return Commit(
            ops=tuple(plan.ops),
            headers=tuple(headers),
            failed=tuple(failed),
            events=(*session._events, *plan.events),
            sets_cookie=plan.cookie is not None,
            handle=session.handle,
        )

    def finish(
        self, commit: Commit, result: ApplyResult, facts: RequestFacts
    ) -> tuple[tuple[Header, ...], list[Event]]:
        """Headers to send and events to emit once ``commit.ops`` gave ``result``."""
        headers = commit.headers if result.ok else commit.failed
        events = list(commit.events)
        events.extend(Event("evicted", facts.client, handle) for handle in result.evicted)
        return headers, events

    # -- planning ------------------------------------------------------------------

    def _remember_ended(self, key: str) -> None:
        self._ended[key] = None
        if len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)

    def _due(self, record: Record) -> bool:
        now = self.clock()
        if now - record.last_active >= self.config.touch_s:
            return True
        return self._renew_due(record, now)

    def _renew_due(self, record: Record, now: float) -> bool:
        renew = self.config.renew_s
        if renew is None:
            return False
        rotated = record.extra.get("rotated_at", record.created_at)
        return bool(now - float(rotated) >= renew)

    def _plan(self, session: Session, facts: RequestFacts) -> _Plan:
        plan = _Plan()
        rec = session._record
        intent = session._intent
        now = self.clock()
        if intent in ("logout", "clear"):
            if rec is not None:
                plan.ops.append(Delete(rec.key))
                if intent == "logout":
                    plan.events.append(Event("logout", facts.client, rec.handle, rec.user_id))
                    self._remember_ended(rec.key)
            elif session._key is not None:
                plan.ops.append(Delete(session._key))
            if len(session):
                # Cleared, then written again (a flash message after logout):
                # a fresh session under a fresh ID carries only the new data.
                record, session_id = self._new_record(session, facts, now, None, False)
                plan.ops.append(Create(record))
                plan.cookie = self._cookie_for(record, session_id, now)
                plan.events.append(Event("created", facts.client, record.handle))
            elif rec is not None or session._presented:
                plan.cookie = self.cookies.delete()
            return plan
        if intent == "login":
            self._plan_login(session, facts, now, plan)
            return plan
        if rec is None:
            if session._key is not None and not session._unavailable:
                plan.ops.append(Delete(session._key))  # an expired record: purge it now
            if session.modified and len(session):
                record, session_id = self._new_record(session, facts, now, None, False)
                plan.ops.append(Create(record))
                plan.cookie = self._cookie_for(record, session_id, now)
                plan.events.append(Event("created", facts.client, record.handle))
            elif session._presented and not session._unavailable:
                plan.cookie = self.cookies.delete()  # a dead cookie: tell the browser to drop it
            return plan
        if intent == "regenerate" or self._renew_due(rec, now):
            self._plan_rotation(session, rec, facts, now, plan, intent == "regenerate")
            return plan
        changed, deleted = session.changes()
        if not len(session) and rec.user_id is None and (changed or deleted):
            # Starlette semantics: an emptied anonymous session ends.
            plan.ops.append(Delete(rec.key))
            plan.cookie = self.cookies.delete()
            return plan
        if len(changed) > len(session._set):
            self._check_size(session, changed)
        meta: dict[str, float] = {}
        if changed or deleted or now - rec.last_active >= self.config.touch_s:
            meta = {
                "last_active": now,
                "expires_at": self._deadline(rec.remember, now, rec.absolute_at),
            }
            plan.ops.append(Patch(rec.key, set=changed, delete=deleted, meta=meta))
            plan.failed_cookie = self.cookies.delete()
        return plan

    def _plan_login(self, session: Session, facts: RequestFacts, now: float, plan: _Plan) -> None:
        assert session._login is not None
        user_id, remember = session._login
        record, session_id = self._new_record(session, facts, now, user_id, remember)
        record.auth_time = now
        old = session._record.key if session._record is not None else session._key
        if old is not None and not session._unavailable:
            # Before the Create: the session being replaced must not count against
            # max_sessions_per_user, or a re-login evicts one of the user's other
            # sessions.  Both ops go in one apply(), so no request sees the gap.
            plan.ops.append(Delete(old))
        plan.ops.append(Create(record, max_per_user=self.config.max_sessions_per_user))
        plan.cookie = self._cookie_for(record, session_id, now)
        plan.events.append(Event("login", facts.client, record.handle, user_id))

    def _plan_rotation(
        self,
        session: Session,
        rec: Record,
        facts: RequestFacts,
        now: float,
        plan: _Plan,
        explicit: bool,
    ) -> None:
        data = dict(rec.data)
        changed, deleted = session.changes()
        data.update(changed)
        for key in deleted:
            data.pop(key, None)
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
        plan.ops.append(Create(record, replaces=rec.key))
        max_age = rec.absolute_at - now if rec.remember else None
        plan.cookie = self.cookies.set(self.ids.sign(session_id), max_age=max_age)
        plan.failed_cookie = self.cookies.delete()
        kind = "regenerated" if explicit else "renewed"
        plan.events.append(Event(kind, facts.client, rec.handle, rec.user_id))

    def _new_record(
        self, session: Session, facts: RequestFacts, now: float, user_id: str | None, remember: bool
    ) -> tuple[Record, str]:
        session_id = new_id()
        absolute_at = now + self.config.absolute_for(remember)
        data = session.encoded()
        self._check_size(session, data)
        return Record(
            key=self.ids.storage_key(session_id),
            handle=new_handle(),
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
        max_age = record.absolute_at - now if record.remember else None
        return self.cookies.set(self.ids.sign(session_id), max_age=max_age)

    def _deadline(self, remember: bool, now: float, absolute_at: float) -> float:
        return min(now + self.config.idle_for(remember), absolute_at)

    def _check_size(self, session: Session, changed: dict[str, str]) -> None:
        size = 0
        for key in session:
            text = changed.get(key) or session._set.get(key) or session._raw.get(key, "")
            size += entry_size(key, text)
        if size > self.config.max_data_bytes:
            raise SessionDataTooLarge(size, self.config.max_data_bytes)


def _info(facts: RequestFacts, user_id: str | None) -> dict[str, str]:
    info = {"ip": facts.client or "", "agent": describe_agent(facts.user_agent)}
    if user_id is not None:
        info["fp"] = fingerprint(facts.client, facts.user_agent)  # binding starts at login
    return info


def _vary_only(session: Session) -> Commit:
    return _VARY_COMMIT if session.accessed or session._presented else NOTHING


_VARY_COMMIT = Commit(headers=(_VARY,))
