"""A state machine of interleaved requests on a real store, checked against a written-down model.

Each request is three steps that other requests' steps may come between:
**load** (``begin`` + ``backend.load`` + ``resume``), **app** (writes,
``login``, ``logout``, ``regenerate``) and **commit** (``commit`` +
``backend.apply`` + ``finish``).  Up to three requests are in flight at once,
from two browsers, next to an admin's ``revoke_user`` and a clock that
jumps.  ``max_sessions_per_user`` is 1 (a login in one browser evicts the
same user's session in the other) and ``max_data_bytes`` is small, so
the values written are sized against the cap.

The model is written from the documented promises only, never from the code
or the store: a session is alive until logout, revocation, eviction (its
user's oldest beyond the limit), rotation of its ID, or its idle or
absolute deadline; a write on a live session lands; login starts a new
session from what the request saw; regenerate keeps the session's data
under a new ID; a commit on a dead session changes nothing.  Invariants:

* **no lost update**: a load of a live session returns exactly the model's
  data (every committed write to any key, from any request);
* **no resurrection / dead IDs stay dead**: a cookie the model considers dead
  (rotated, logged out, revoked, evicted, expired) loads as a new session;
* **deadlines hold**: past its idle or absolute deadline nothing is served;
* **size cap**: no stored session exceeds ``max_data_bytes``.

Run by ``test_concurrency_state.py`` on memory, SQLite, PostgreSQL and Redis.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionware import SessionConfig, SessionManager
from sessionware.backends.base import Backend
from sessionware.core import Engine, RequestFacts
from sessionware.errors import SessionDataTooLarge
from sessionware.records import APPLIED
from sessionware.session import Session
from sessionware.testing import FakeClock

IDLE = 600.0
ABSOLUTE = 1800.0
TOUCH = 1.0
CAP = 2048
MAX_PER_USER = 1
NAME = "__Host-session"
#: A value about 60 % of the cap: one fits in a session, two do not.
BIG = "x" * 1200
_runs = itertools.count()


def size(data: dict[str, Any]) -> int:
    """The documented measure of session data: JSON key and value bytes, plus 4 per key."""
    return sum(len(k) + len(json.dumps(v, separators=(",", ":"))) + 4 for k, v in data.items())


@dataclass
class Model:
    """One session as the model believes it to be."""

    data: dict[str, Any]
    user: str | None
    created: float
    absolute_at: float
    active: float
    alive: bool = True
    version: int = 0  # bumped on every committed data change

    def live(self, now: float) -> bool:
        return self.alive and now < self.absolute_at and now < self.active + IDLE


@dataclass
class Flight:
    """A request between its load and its commit."""

    client: int
    sid: int | None  # the model session it loaded, None for a fresh one
    session: Session
    facts: RequestFacts
    view: dict[str, Any]  # what the app sees: loaded data plus its own writes
    active_seen: float
    version_seen: int = 0
    writes: dict[str, Any] = field(default_factory=dict)
    intent: str | None = None
    user: str | None = None


class ConcurrencyMachine(RuleBasedStateMachine):
    """Subclassed per backend with ``make_backend`` and the two permission flags."""

    make_backend: Callable[[], Backend]
    #: Allow big writes from two in-flight requests of one session (the store-side cap, #13).
    concurrent_big = False
    #: Allow regenerate while another request of the same session is in flight.
    rotate_under_writers = False
    # Each flag's run hunts one bug, so it leaves out the rule that only dilutes the
    # hunt (small writes for the cap, big ones for rotation); the main run has both.

    @initialize()
    def setup(self) -> None:
        self.clock = FakeClock()
        self.config = SessionConfig(
            secret_keys=["m" * 32],
            idle_timeout=IDLE,
            absolute_timeout=ABSOLUTE,
            touch_interval=TOUCH,
            max_data_bytes=CAP,
            max_sessions_per_user=MAX_PER_USER,
            guard=None,
        )
        self.engine = Engine(self.config, clock=self.clock)
        self.backend = type(self).make_backend()
        self.manager = SessionManager(self.backend, clock=self.clock)
        run = f"{uuid.uuid4().hex[:8]}-{next(_runs)}"
        self.users = [f"alice-{run}", f"bob-{run}"]
        self.cookies: list[str | None] = [None, None]
        self.models: list[Model] = []
        self.by_cookie: dict[str, int] = {}
        self.dead: set[str] = set()
        self.flights: list[Flight] = []
        for client in (0, 1):  # both browsers start with a session holding one small value
            self.load(client)
            self._write(0, "a", False, client)
            self.commit(0)

    def teardown(self) -> None:
        """Release the store now: a shrinking run builds hundreds of machines, and
        each open SQL backend holds a connection until the fixture ends."""
        if hasattr(self, "backend"):
            self.backend.close()

    # -- helpers -------------------------------------------------------------------

    def _kill(self, sid: int) -> None:
        self.models[sid].alive = False
        self.dead |= {c for c, s in self.by_cookie.items() if s == sid}

    def _new(self, data: dict[str, Any], user: str | None, cookie: str) -> int:
        now = self.clock()
        self.models.append(Model(dict(data), user, now, now + ABSOLUTE, now))
        sid = len(self.models) - 1
        self.by_cookie[cookie] = sid
        return sid

    def _flight(self, index: int) -> Flight:
        """The request an app step runs in; apps mostly work on sessions they resumed."""
        resumed = [f for f in self.flights if f.sid is not None]
        pool = resumed if resumed and index < 2 else self.flights
        return pool[index % len(pool)]

    def _sharing(self, flight: Flight) -> bool:
        return any(f is not flight and f.sid == flight.sid for f in self.flights)

    def _beside_rotation(self, flight: Flight) -> bool:
        """Another request of this session is regenerating it (see ``rotate_under_writers``)."""
        return flight.sid is not None and any(
            f is not flight and f.sid == flight.sid and f.intent == "regenerate"
            for f in self.flights
        )

    # -- load ----------------------------------------------------------------------

    @precondition(lambda self: len(self.flights) < 2)
    @rule(client=st.integers(0, 1))
    def load_two(self, client: int) -> None:
        """One browser sends two requests at once (parallel fetches): both in flight."""
        self.load(client)
        self.load(client)

    @precondition(lambda self: len(self.flights) < 3)
    @rule(client=st.integers(0, 1))
    def load(self, client: int) -> None:
        cookie = self.cookies[client]
        facts = RequestFacts(cookie=f"{NAME}={cookie}" if cookie else None, client="192.0.2.8")
        begin = self.engine.begin(facts)
        record = self.backend.load(begin.key, self.clock()) if begin.key else None
        session = self.engine.resume(begin, record, facts)
        sid = self.by_cookie.get(cookie) if cookie else None
        now = self.clock()
        if sid is not None and self.models[sid].live(now):
            model = self.models[sid]
            assert not session.is_new, f"a live session was not found (model {model})"
            assert dict(session) == model.data, f"lost update: {dict(session)} != {model.data}"
            assert session.user_id == model.user
            view, seen, version = dict(model.data), model.active, model.version
        else:
            if sid is not None and self.models[sid].alive:
                self._kill(sid)  # past a deadline: the model's view of expiry
            assert session.is_new, f"a dead ID was served: {cookie!r} -> {dict(session)}"
            assert session.user_id is None and not dict(session)
            sid, view, seen, version = None, {}, now, 0
        self.flights.append(Flight(client, sid, session, facts, view, seen, version))

    # -- app -----------------------------------------------------------------------

    @precondition(lambda self: self.flights and not self.concurrent_big)
    @rule(index=st.integers(0, 2), key=st.sampled_from("abcd"), n=st.integers())
    def write(self, index: int, key: str, n: int) -> None:
        self._write(index, key, False, n)

    @precondition(lambda self: self.flights and not self.rotate_under_writers)
    @rule(index=st.integers(0, 2), key=st.sampled_from("abcd"))
    def write_big(self, index: int, key: str) -> None:
        """A value sized against the cap: one fits in a session, two do not."""
        self._write(index, key, True, 0)

    def _write(self, index: int, key: str, big: bool, n: int) -> None:
        self._write_in(self._flight(index), key, big, n)

    def _write_in(self, flight: Flight, key: str, big: bool, n: int) -> None:
        if not self.rotate_under_writers and self._beside_rotation(flight):
            return  # rotation copies the loaded data: a write beside it is lost (the finding)
        if big and not self.concurrent_big and flight.sid is not None and self._sharing(flight):
            big = False  # sequential writers only: the cap is per request until #13
        value: Any = BIG if big else n % 1000
        after = {**flight.view, key: value}
        try:
            flight.session[key] = value
        except SessionDataTooLarge:
            assert size(after) > CAP, f"a {size(after)}-byte session was refused"
            return
        assert size(after) <= CAP, f"a {size(after)}-byte session was accepted"
        flight.view, flight.writes[key] = after, value

    @precondition(lambda self: self.flights)
    @rule(index=st.integers(0, 2), user=st.integers(0, 1))
    def login(self, index: int, user: int) -> None:
        flight = self._flight(index)
        if flight.intent is None:
            flight.session.login(self.users[user])
            flight.intent, flight.user = "login", self.users[user]

    @precondition(lambda self: self.flights)
    @rule(index=st.integers(0, 2))
    def logout(self, index: int) -> None:
        flight = self._flight(index)
        if flight.intent is None:
            flight.session.logout()
            flight.intent, flight.view, flight.writes = "logout", {}, {}

    @precondition(lambda self: self.flights)
    @rule(index=st.integers(0, 2))
    def regenerate(self, index: int) -> None:
        self._regenerate_in(self._flight(index))

    def _regenerate_in(self, flight: Flight) -> None:
        if flight.intent is not None or flight.sid is None:
            return
        if not self.rotate_under_writers and (
            self._sharing(flight) or self.models[flight.sid].version != flight.version_seen
        ):
            return
        flight.session.regenerate()
        flight.intent = "regenerate"

    # -- commit --------------------------------------------------------------------

    @precondition(lambda self: self.flights)
    @rule(index=st.integers(0, 2))
    def commit(self, index: int) -> None:
        self._commit_of(self._flight(index))

    @precondition(lambda self: self.rotate_under_writers and len(self.flights) < 2)
    @rule(
        client=st.integers(0, 1),
        key=st.sampled_from("abcd"),
        n=st.integers(),
        writer_first=st.booleans(),
    )
    def rotate_beside_writer(self, client: int, key: str, n: int, writer_first: bool) -> None:
        """Two parallel requests of one browser: one writes a key, the other regenerates.

        The race the rotation run hunts, played in one step so that a run of
        a few dozen examples meets it many times on every store; the other
        rules still interleave everything else around it.
        """
        self.load(client)
        self.load(client)
        writer, rotator = self.flights[-2], self.flights[-1]
        self._write_in(writer, key, False, n)
        self._regenerate_in(rotator)
        for flight in (writer, rotator) if writer_first else (rotator, writer):
            self._commit_of(flight)

    def _commit_of(self, flight: Flight) -> None:
        self.flights.remove(flight)
        self.clock.advance(1)
        now = self.clock()
        commit = self.engine.commit(flight.session, 200, flight.facts)
        result = self.backend.apply(commit.ops, now) if commit.ops else APPLIED
        headers, _ = self.engine.finish(commit, result, flight.facts)
        cookie = self.cookies[flight.client]
        for name, value in headers:
            if name == "set-cookie":
                cookie = value.split(";", 1)[0].split("=", 1)[1] or None
        model = self.models[flight.sid] if flight.sid is not None else None
        alive = model is not None and model.live(now)
        if flight.intent == "login":
            assert cookie is not None and cookie not in self.by_cookie
            if model is not None:
                self._kill(flight.sid)  # type: ignore[arg-type]
            self._new(flight.view, flight.user, cookie)
            self._evict(flight.user, now)
        elif flight.intent == "logout":
            if model is not None:
                self._kill(flight.sid)  # type: ignore[arg-type]
            if flight.view:  # written after logout (a flash message): a fresh session
                assert cookie is not None and cookie not in self.by_cookie
                self._new(flight.view, None, cookie)
        elif model is None:
            if flight.writes:
                assert cookie is not None and cookie not in self.by_cookie
                self._new(flight.writes, None, cookie)
        elif not alive:
            # A commit on a session that died meanwhile must change nothing (no resurrection).
            if cookie is not None and cookie not in self.by_cookie:
                self.dead.add(cookie)  # a new ID for a dead session is dead too
            if model.alive:
                self._kill(flight.sid)  # type: ignore[arg-type]
        else:
            self._apply_live(flight, model, cookie, now)
        self.cookies[flight.client] = cookie

    def _apply_live(self, flight: Flight, model: Model, cookie: str | None, now: float) -> None:
        """What a commit on a live session does to the model."""
        grown = {**model.data, **flight.writes}
        if size(grown) > CAP:
            return  # the store-side cap refuses the patch as a whole (#13)
        if flight.intent == "regenerate":
            assert cookie is not None and cookie not in self.by_cookie, "no new ID on regenerate"
            self._kill(flight.sid)  # type: ignore[arg-type]
            sid = self._new(grown, model.user, cookie)
            fresh = self.models[sid]
            fresh.created, fresh.absolute_at = model.created, model.absolute_at
            return
        if flight.writes:
            model.data, model.version = grown, model.version + 1
        if flight.writes or now - flight.active_seen >= TOUCH:
            model.active = now

    def _evict(self, user: str | None, now: float) -> None:
        live = sorted(
            (i for i, m in enumerate(self.models) if m.user == user and m.live(now)),
            key=lambda i: self.models[i].created,
        )
        for sid in live[: max(0, len(live) - MAX_PER_USER)]:
            self._kill(sid)

    # -- the admin and the clock ------------------------------------------------------

    @rule(user=st.integers(0, 1))
    def revoke_user(self, user: int) -> None:
        self.manager.revoke_user(self.users[user])
        for sid, model in enumerate(self.models):
            if model.user == self.users[user] and model.alive:
                self._kill(sid)

    @rule(seconds=st.sampled_from([1.0, 1.0, 30.0, 30.0, IDLE - 5, IDLE + 5, ABSOLUTE]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def dead_ids_stay_dead(self) -> None:
        if not hasattr(self, "dead"):
            return
        now = self.clock()
        for cookie in self.dead:
            begin = self.engine.begin(RequestFacts(cookie=f"{NAME}={cookie}"))
            record = self.backend.load(begin.key, now) if begin.key else None
            assert record is None, f"resurrection: a dead ID loads {record.data if record else ''}"

    @invariant()
    def no_stored_session_above_the_cap(self) -> None:
        if not hasattr(self, "by_cookie"):
            return
        now = self.clock()
        for cookie, sid in self.by_cookie.items():
            if not self.models[sid].live(now):
                continue
            begin = self.engine.begin(RequestFacts(cookie=f"{NAME}={cookie}"))
            record = self.backend.load(begin.key, now) if begin.key else None
            if record is not None:
                stored = sum(len(k) + len(v) + 4 for k, v in record.data.items())
                assert stored <= CAP, f"a session of {stored} bytes is stored (cap {CAP})"
