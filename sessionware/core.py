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
2. IDs come only from the cookie.  A query string or ``;path`` parameter with
   a session-ID name whose value could be a session ID (our signed shape, or
   22+ URL-safe characters) is a 400 under ``url_id_policy="reject"`` (FX-01);
   ``?sid=3`` passes untouched.
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
   session over a concurrent writer's keys (CC-01).  A rotation (regenerate,
   renewal) is one too: the store carries the replaced record's data over as
   it stands and applies this request's changes to it (#18).
9. A signed-in session that ends leaves a tombstone in the same backend call
   (on stores that keep them); a dead cookie then reads ``end_reason`` and an
   ``ended`` event, never ``unknown_id``, and the guard does not count it
   (AN-04).  A live session's read never looks for one.
10. The old ID of a periodic renewal serves its successor for
    ``rotation_grace`` only; after ``login``/``regenerate`` never (FX-07).  A
    rotated-out ID presented later is ``stale_reuse`` (and under
    ``on_stale_reuse="revoke"`` the successor ends).  See ``endings.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from urllib.parse import unquote_plus

from .config import SessionConfig
from .cookies import MAX_HEADER, CookieWriter, read_session_cookies
from .endings import Ended, Ending, bury, judge, reason_events
from .events import Event
from .facts import Begin, Commit, Header, RequestFacts
from .fingerprint import binding_event
from .ids import IdCodec
from .planning import Planner
from .records import ApplyResult, Record
from .session import Session, TaggedSession

__all__ = ["Begin", "Commit", "Engine", "RequestFacts"]

#: Query/path parameter names that carry session IDs in other stacks (FX-01).
URL_ID_NAMES = frozenset({"session", "sid", "sessionid", "session_id", "jsessionid", "phpsessid"})
#: A value that could be a session ID: 22+ URL-safe characters (128 bits of
#: base64url), which covers our signed shape and every common stack's IDs.
_ID_LIKE = re.compile(r"[A-Za-z0-9_.~-]{22,}")

#: How many verified cookie values :meth:`Engine.begin` remembers (then it starts over).
VERIFIED_CACHE = 4096

NO_SESSION = Begin()
NOTHING = Commit()
_VARY = ("vary", "Cookie")
_NO_STORE = ("cache-control", "no-store")
#: Schemes under which ``secure="auto"`` sends a Secure cookie.
_HTTPS = frozenset({"https", "wss"})


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
        self.planner = Planner(config, self.ids, self.cookies, clock)
        # Cookie values whose signature verified, with their storage keys: a
        # returning session's HMAC and keyed hash are computed once, not on each
        # request.  Only values that verified enter (a forged one never does), and
        # the store still decides whether the session lives; a lookup needs the
        # exact signed value, so it tells a client nothing it does not hold.
        self._verified: dict[str, str] = {}
        #: The store keeps tombstones (set by the adapters): then the engine's own
        #: memory of recent logouts, a fallback for stores without them, is unused.
        self.tombstones = False
        #: The class of the sessions handed to the app: JSON values, or Flask's
        #: tagged JSON under ``codec="tagged"`` (the Flask extension sets its own).
        self.session_type: type[Session] = TaggedSession if config.codec == "tagged" else Session

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
        value = values[0]
        key = self._verified.get(value)
        if key is None:
            verified = self.ids.unsign(value)
            if verified is None:
                # Only our own shape with a failing signature is a forgery; a legacy or
                # foreign cookie under our name is its own kind (the guard ignores it).
                kind = "bad_signature" if self.ids.shaped(value) else "foreign_cookie"
                event = Event(kind, facts.client, detail={"length": len(value)})
                return Begin(presented=True, events=(*events, event))
            key = self.ids.storage_key(*verified)
            if len(self._verified) >= VERIFIED_CACHE:
                self._verified.clear()
            self._verified[value] = key
        return Begin(key=key, presented=True, events=events)

    def _url_id(self, facts: RequestFacts) -> bool:
        """True when a parameter named like a session ID carries a value that could be one."""
        pairs: list[str] = []
        query = facts.query
        if query and any(n in unquote_plus(query).lower() for n in self._url_names):
            pairs.extend(query.split("&"))
        _, semi, params = facts.path.partition(";")
        if semi:
            pairs.extend(params.split(";"))
        names = self._url_names
        for pair in pairs:
            name, _, value = pair.partition("=")
            if (
                unquote_plus(name).strip().lower() in names
                and _ID_LIKE.match(unquote_plus(value).strip()) is not None
            ):
                return True
        return False

    # -- step 2 --------------------------------------------------------------------

    def resume(
        self,
        begin: Begin,
        record: Record | None,
        facts: RequestFacts,
        *,
        read_only: bool = False,
        unavailable: bool | Mapping[str, str] | None = False,
        ending: Ending | None = None,
    ) -> Session:
        """The session for this request, with expiry enforced server-side.

        ``unavailable`` is true when the store failed to answer; a mapping is
        the ``backend_down`` event's detail (store address and cause).
        ``ending`` is what a backend that keeps tombstones had for a key
        whose record is gone (see :mod:`sessionware.endings`).
        """
        cfg = self.config
        if record is not None:
            now = self.clock()
            idle_end = record.last_active + cfg.idle_for(record.remember)
            if now >= idle_end or now >= record.absolute_at or now >= record.expires_at:
                return self._expired(record, idle_end, now, facts, read_only)
            if cfg.binding != "off" and "fp" in record.info:
                event = binding_event(record, facts.client, facts.user_agent, cfg.binding)
                if event is not None:
                    return self._mismatch(record, event, read_only)
            session = self.session_type(record, limit=cfg.max_data_bytes, read_only=read_only)
            session.presented = True
            return session
        session = self.session_type(limit=cfg.max_data_bytes, read_only=read_only)
        session.presented = begin.presented
        if begin.key is not None:
            if unavailable:
                session.store_unavailable = True
                detail = {} if isinstance(unavailable, bool) else dict(unavailable)
                session.pending_events.append(Event("backend_down", facts.client, detail=detail))
            elif ending is not None:
                verdict = judge(cfg, ending, self.clock(), facts.client)
                if verdict.serve is not None:  # a renewal's grace window (FX-07)
                    session = self.session_type(
                        verdict.serve, limit=cfg.max_data_bytes, read_only=read_only
                    )
                    session.presented = True
                    return session
                session.ending = verdict.ended
                session.pending_events.extend(verdict.events)
            elif not self.tombstones and begin.key in self.planner.ended:
                session.ending = Ended("logout")
                session.pending_events.extend(
                    reason_events(session.ending, None, None, facts.client)
                )
            else:
                session.pending_events.append(Event("unknown_id", facts.client))
        return session

    def _expired(
        self, record: Record, idle_end: float, now: float, facts: RequestFacts, read_only: bool
    ) -> Session:
        """A record past a deadline the store has not acted on yet: purge it, keep why."""
        session = self.session_type(limit=self.config.max_data_bytes, read_only=read_only)
        session.storage_key = record.key  # the commit deletes it and expires the cookie
        session.presented = True
        absolute = now >= record.absolute_at
        reason = "absolute" if absolute else "idle"
        at = record.absolute_at if absolute else min(idle_end, record.expires_at)
        tomb = bury(self.config, record, reason, now)
        session.ending = Ended(reason, at, bury=tomb)
        session.pending_events.extend(
            reason_events(session.ending, record.handle, record.user_id, facts.client)
        )
        return session

    def _mismatch(self, record: Record, event: Event, read_only: bool) -> Session:
        """Binding broke (AN-03); under ``"revoke"`` the session ends like an expired one."""
        limit = self.config.max_data_bytes
        if self.config.binding == "revoke":
            session = self.session_type(limit=limit, read_only=read_only)
            session.storage_key = record.key  # the commit deletes it and expires the cookie
            now = self.clock()
            session.ending = Ended("binding", now, bury=bury(self.config, record, "binding", now))
        else:
            session = self.session_type(record, limit=limit, read_only=read_only)
        session.presented = True
        session.pending_events.append(event)
        return session

    # -- step 3 --------------------------------------------------------------------

    def commit(self, session: Session, status: int, facts: RequestFacts) -> Commit:
        """Turn what the app did to ``session`` into backend ops and headers."""
        if status >= 500 or session.read_only:
            return NOTHING
        if not session.modified and not session.presented and not session.pending_events:
            return _VARY_COMMIT if session.accessed else NOTHING  # never had a session
        # Vary: Cookie only where the handler read or wrote the session, or the
        # cookie is set or cleared below; an untouched session leaves caching alone.
        if (
            not session.modified
            and session.record is not None
            and not self.planner.due(session.record)
            and not (session.accessed and session.mutated())
        ):
            # The hot path: an untouched or read-only existing session.
            return _vary_only(session)
        plan = self.planner.plan(session, facts)
        if self.cookies.auto and facts.scheme not in _HTTPS:
            plan.cookie = self.cookies.plain(plan.cookie)
            plan.failed_cookie = self.cookies.plain(plan.failed_cookie)
        headers: list[Header] = []
        if session.accessed or plan.cookie is not None:
            headers.append(_VARY)
        if not plan.ops and plan.cookie is None and not plan.events:
            return Commit(headers=tuple(headers)) if headers else NOTHING
        failed: list[Header] = [_VARY] if session.accessed or plan.failed_cookie else []
        if plan.cookie is not None:
            headers += [("set-cookie", plan.cookie), _NO_STORE]
        if plan.failed_cookie is not None:
            failed += [("set-cookie", plan.failed_cookie), _NO_STORE]
        if session.intent == "logout" and self.config.clear_site_data:
            headers.append(("clear-site-data", '"cache", "cookies", "storage"'))
        return Commit(
            ops=tuple(plan.ops),
            headers=tuple(headers),
            failed=tuple(failed),
            events=(*session.pending_events, *plan.events),
            sets_cookie=plan.cookie is not None,
            handle=session.record.handle if session.record is not None else None,
        )

    def finish(
        self, commit: Commit, result: ApplyResult, facts: RequestFacts
    ) -> tuple[tuple[Header, ...], list[Event]]:
        """Headers to send and events to emit once ``commit.ops`` gave ``result``."""
        headers = commit.headers if result.ok else commit.failed
        events = list(commit.events)
        events.extend(Event("evicted", facts.client, handle) for handle in result.evicted)
        return headers, events


def _vary_only(session: Session) -> Commit:
    return _VARY_COMMIT if session.accessed else NOTHING


_VARY_COMMIT = Commit(headers=(_VARY,))
