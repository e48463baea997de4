"""Sessions the engine ends itself: a deadline the store has not acted on yet, a broken binding.

A store's own expiry can lag the application's clock (a Redis TTL on a
skewed host, an SQL table swept once a minute), so the engine checks idle
and absolute limits on every record it is handed (EX-01, EX-02) and ends
bound sessions whose fingerprint changed (AN-03).  What users and operators
rely on then: the reason and the moment (``end_reason``, ``ended_at``, the
``ended`` event), the record gone with a tombstone in the same call so the
dead cookie keeps its story (invariant 9), and the replacement session
still obeying ``max_data_bytes`` and read-only mode.

The driver below is what the adapters do, with one twist: the store can be
handed a clock that runs ``store_lag`` seconds behind the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sessionware import Engine, Event, RequestFacts, Session, SessionConfig, SessionDataTooLarge
from sessionware.backends import MemoryBackend
from sessionware.endings import Ending
from sessionware.ids import new_id
from sessionware.records import APPLIED, Create, Delete, Op, Patch, Record
from sessionware.testing import FakeClock

from ..conftest import SECRET

CLIENT = "203.0.113.5"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
NAME = "__Host-session"
MIN = 60.0


@dataclass
class Visit:
    session: Session
    ops: tuple[Op, ...]
    headers: tuple[tuple[str, str], ...]
    events: list[Event]

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def cookie(self) -> str | None:
        """The session cookie's new value ("" when expired, None when not set)."""
        for name, value in self.headers:
            if name == "set-cookie" and value.startswith(NAME + "="):
                return "" if "Max-Age=0" in value else value.split(";")[0].partition("=")[2]
        return None


class Site:
    """An engine on a MemoryBackend that keeps tombstones, driven like the adapters drive it."""

    def __init__(self, clock: FakeClock, backend: MemoryBackend, **fields: Any) -> None:
        self.engine = Engine(SessionConfig(secret_keys=[SECRET], **fields), clock=clock)
        self.engine.tombstones = True
        self.backend = backend
        self.clock = clock

    def visit(
        self,
        cookie: str | None,
        app: Callable[[Session], Any] | None = None,
        *,
        agent: str = FIREFOX,
        store_lag: float = 0.0,
        read_only: bool = False,
    ) -> Visit:
        engine, backend = self.engine, self.backend
        facts = RequestFacts(
            cookie=f"{NAME}={cookie}" if cookie else None,
            client=CLIENT,
            user_agent=agent,
            scheme="https",
        )
        begin = engine.begin(facts)
        store_now = self.clock() - store_lag
        record = backend.load(begin.key, store_now) if begin.key else None
        ending = None
        if begin.key and record is None:
            ending = self._ending(begin.key)
        session = engine.resume(begin, record, facts, read_only=read_only, ending=ending)
        events = list(begin.events) + session.pending_events
        session.pending_events.clear()
        if app is not None:
            app(session)
        commit = engine.commit(session, 200, facts)
        result = backend.apply(commit.ops, store_now) if commit.ops else APPLIED
        headers, more = engine.finish(commit, result, facts)
        return Visit(session, commit.ops, headers, events + more)

    def _ending(self, key: str) -> Ending | None:
        """The tombstone and, for a rotation, its live successor (as the adapters read it)."""
        now = self.clock()
        tomb = self.backend.load_ending(key, now)
        if tomb is None or tomb.reason != "rotated":
            return None if tomb is None else Ending(tomb)
        successor = None if tomb.successor is None else self.backend.load(tomb.successor, now)
        if successor is None and tomb.renewal:
            successor = self.backend.load_handle(tomb.handle, now)
        return Ending(tomb, successor)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


def _login(site: Site, user: str = "alice") -> tuple[str, str]:
    """Sign ``user`` in; returns (cookie value, public handle)."""
    visit = site.visit(None, lambda s: s.login(user))
    cookie = visit.cookie()
    assert cookie
    (record,) = site.backend.by_user(user, site.clock())
    return cookie, record.handle


def _only_delete(ops: tuple[Op, ...]) -> Delete:
    assert len(ops) == 1 and isinstance(ops[0], Delete), ops
    return ops[0]


def _assert_ended(visit: Visit, reason: str, at: float | None, handle: str) -> None:
    assert visit.session.is_new and visit.session.user_id is None
    assert visit.session.end_reason == reason and visit.session.ended_at == at
    ended = [e for e in visit.events if e.kind == "ended"]
    assert len(ended) == 1
    event = ended[0]
    assert (event.client, event.handle, event.user_id) == (CLIENT, handle, "alice")
    assert event.detail["reason"] == reason
    assert event.detail.get("ended_at") == at


# -- deadlines the store missed -------------------------------------------------------------


def test_an_idle_deadline_the_store_missed_ends_the_session(clock: FakeClock) -> None:
    """Past idle_timeout by the engine's clock: ended (idle), purged, tombstoned, cookie dropped."""
    site = Site(clock, MemoryBackend())
    start = clock()
    cookie, handle = _login(site)
    clock.advance(31 * MIN)
    visit = site.visit(cookie, store_lag=10 * MIN)
    _assert_ended(visit, "idle", start + 30 * MIN, handle)
    assert visit.kinds == ["ended", "expired"]
    assert visit.events[1].handle == handle and visit.events[1].client == CLIENT
    tomb = _only_delete(visit.ops).tombstone
    assert tomb is not None and tomb.reason == "idle" and tomb.ended_at == clock()
    assert tomb.handle == handle and tomb.user_id == "alice"
    assert visit.cookie() == ""
    assert site.backend.by_user("alice", clock()) == []
    # The dead cookie keeps its story: the tombstone says idle, with the purge time.
    again = site.visit(cookie)
    _assert_ended(again, "idle", clock(), handle)
    assert again.ops == ()


@pytest.mark.parametrize("after", [10 * MIN, 20 * MIN], ids=["at-the-deadline", "after-it"])
def test_an_earlier_stored_deadline_is_the_one_reported(clock: FakeClock, after: float) -> None:
    """A record stored with a shorter idle limit ends at its own deadline, not the engine's;
    the deadline itself already counts as passed."""
    backend = MemoryBackend()
    start = clock()
    cookie, handle = _login(Site(clock, backend, idle_timeout=10 * MIN))
    lenient = Site(clock, backend, idle_timeout=30 * MIN)
    clock.advance(after)
    visit = lenient.visit(cookie, store_lag=15 * MIN)
    _assert_ended(visit, "idle", start + 10 * MIN, handle)
    assert _only_delete(visit.ops).tombstone is not None


def _kept_active_until_absolute(site: Site, clock: FakeClock) -> tuple[str, str, float]:
    start = clock()
    cookie, handle = _login(site)
    for _ in range(2):  # touched at +25 and +50 min: the idle deadline is +80 min
        clock.advance(25 * MIN)
        assert not site.visit(cookie, lambda s: s.get("n")).session.is_new
    clock.advance(10 * MIN)  # exactly at the absolute deadline (+60 min)
    return cookie, handle, start + 60 * MIN


def test_the_absolute_deadline_is_reported_at_its_instant(clock: FakeClock) -> None:
    """Reaching absolute_timeout (a deadline is exclusive) ends the session as absolute."""
    site = Site(clock, MemoryBackend(), absolute_timeout=60 * MIN)
    cookie, handle, deadline = _kept_active_until_absolute(site, clock)
    visit = site.visit(cookie, store_lag=5 * MIN)
    _assert_ended(visit, "absolute", deadline, handle)
    assert visit.kinds == ["ended", "expired"]
    tomb = _only_delete(visit.ops).tombstone
    assert tomb is not None and tomb.reason == "absolute"
    again = site.visit(cookie)
    assert again.session.end_reason == "absolute"


def test_an_ended_session_still_refuses_oversized_data(clock: FakeClock) -> None:
    """The anonymous session that replaces an expired one keeps max_data_bytes (RS-03)."""
    site = Site(clock, MemoryBackend(), max_data_bytes=200)
    cookie, _ = _login(site)
    clock.advance(31 * MIN)
    visit = site.visit(cookie, store_lag=10 * MIN)
    with pytest.raises(SessionDataTooLarge):
        visit.session["big"] = "x" * 500


def test_an_expired_session_on_a_websocket_stays_read_only(clock: FakeClock) -> None:
    """A read-only (websocket) request that finds an expired record can neither write nor commit."""
    site = Site(clock, MemoryBackend())
    cookie, _ = _login(site)
    clock.advance(31 * MIN)
    visit = site.visit(cookie, store_lag=10 * MIN, read_only=True)
    assert visit.session.end_reason == "idle"
    assert visit.ops == () and visit.headers == ()
    with pytest.raises(TypeError):
        visit.session["n"] = 1


# -- binding (AN-03) ------------------------------------------------------------------------


def test_a_revoked_binding_ends_the_session_with_a_tombstone(clock: FakeClock) -> None:
    """``binding="revoke"``: ended (binding) now, purged, and the cookie reads as ended later."""
    site = Site(clock, MemoryBackend(), binding="revoke")
    cookie, handle = _login(site)
    clock.advance(MIN)
    visit = site.visit(cookie, agent=CHROME)
    assert visit.session.is_new and visit.session.user_id is None
    assert visit.session.end_reason == "binding" and visit.session.ended_at == clock()
    assert visit.kinds == ["binding_mismatch"]
    assert visit.events[0].detail["action"] == "revoked"
    tomb = _only_delete(visit.ops).tombstone
    assert tomb is not None and tomb.reason == "binding" and tomb.ended_at == clock()
    assert visit.cookie() == ""
    assert site.backend.by_user("alice", clock()) == []
    ended_at = clock()
    clock.advance(MIN)
    again = site.visit(cookie)  # even the owner's own browser: the ID is dead everywhere
    _assert_ended(again, "binding", ended_at, handle)
    assert again.kinds == ["ended"]


def test_a_revoked_binding_leaves_a_limited_session(clock: FakeClock) -> None:
    """The replacement session keeps max_data_bytes."""
    site = Site(clock, MemoryBackend(), binding="revoke", max_data_bytes=200)
    cookie, _ = _login(site)
    visit = site.visit(cookie, agent=CHROME)
    with pytest.raises(SessionDataTooLarge):
        visit.session["big"] = "x" * 500


@pytest.mark.parametrize("policy", ["log", "revoke"])
def test_a_binding_mismatch_on_a_websocket_stays_read_only(clock: FakeClock, policy: str) -> None:
    """A websocket from another browser gets a read-only session under either policy."""
    site = Site(clock, MemoryBackend(), binding=policy)
    cookie, _ = _login(site)
    visit = site.visit(cookie, agent=CHROME, read_only=True)
    assert visit.kinds == ["binding_mismatch"]
    assert visit.ops == () and visit.headers == ()
    with pytest.raises(TypeError):
        visit.session["n"] = 1
    assert site.backend.by_user("alice", clock()) != []


def test_a_logged_binding_mismatch_keeps_the_session_and_its_limit(clock: FakeClock) -> None:
    """``binding="log"`` serves the session as it was, max_data_bytes included."""
    site = Site(clock, MemoryBackend(), binding="log", max_data_bytes=200)
    cookie, handle = _login(site)
    visit = site.visit(cookie, agent=CHROME)
    assert visit.session.user_id == "alice" and visit.session.handle == handle
    assert visit.kinds == ["binding_mismatch"] and visit.session.end_reason is None
    with pytest.raises(SessionDataTooLarge):
        visit.session["big"] = "x" * 500


@pytest.mark.parametrize("after", [0.0, MIN], ids=["at-the-deadline", "after-it"])
def test_the_absolute_deadline_holds_even_if_the_store_would_keep_the_record(
    clock: FakeClock, after: float
) -> None:
    """A stored expiry later than the absolute deadline (an operator's TTL change, a foreign
    writer) does not extend the session: the engine ends it at absolute_at (EX-02)."""
    site = Site(clock, MemoryBackend())
    now = clock()
    session_id = new_id()
    record = Record(
        key=site.engine.ids.storage_key(session_id),
        handle="h-" + new_id()[:10],
        created_at=now - 2 * MIN,
        last_active=now - MIN,
        expires_at=now + 60 * MIN,
        absolute_at=now,
        user_id="alice",
    )
    assert site.backend.apply([Create(record)], now).ok
    clock.advance(after)
    visit = site.visit(site.engine.ids.sign(session_id))
    _assert_ended(visit, "absolute", now, record.handle)
    assert visit.cookie() == ""


# -- sessions that were live: their limits and read-only mode ------------------------------


def test_a_loaded_session_refuses_oversized_data_at_the_offending_line(clock: FakeClock) -> None:
    """max_data_bytes applies to a resumed session, not only to new ones (RS-03)."""
    site = Site(clock, MemoryBackend(), max_data_bytes=200)
    cookie, _ = _login(site)
    visit = site.visit(cookie)
    assert visit.session.user_id == "alice"
    with pytest.raises(SessionDataTooLarge):
        visit.session["big"] = "x" * 500


@pytest.mark.parametrize("presented", [False, True], ids=["no-cookie", "unknown-cookie"])
def test_a_new_session_refuses_oversized_data_at_the_offending_line(
    clock: FakeClock, presented: bool
) -> None:
    """A fresh session, with or without a dead cookie, fails at the write, not at commit."""
    site = Site(clock, MemoryBackend(), max_data_bytes=200)
    cookie = site.engine.ids.sign(new_id()) if presented else None
    visit = site.visit(cookie)
    with pytest.raises(SessionDataTooLarge):
        visit.session["big"] = "x" * 500


@pytest.mark.parametrize("presented", [False, True], ids=["no-cookie", "unknown-cookie"])
def test_a_websocket_without_a_live_session_gets_a_read_only_one(
    clock: FakeClock, presented: bool
) -> None:
    """No cookie or a dead one on a websocket: an empty session that refuses writes."""
    site = Site(clock, MemoryBackend())
    cookie = site.engine.ids.sign(new_id()) if presented else None
    visit = site.visit(cookie, read_only=True)
    assert visit.session.is_new and visit.ops == () and visit.headers == ()
    with pytest.raises(TypeError):
        visit.session["n"] = 1


def test_a_renewal_grace_window_serves_the_successor_with_its_limits(clock: FakeClock) -> None:
    """Inside rotation_grace the old cookie of a renewal serves the new session (FX-07), still
    bounded by max_data_bytes and still read-only on a websocket."""
    site = Site(clock, MemoryBackend(), renew_interval=10 * MIN, max_data_bytes=200)
    old, handle = _login(site)
    clock.advance(11 * MIN)
    renewed = site.visit(old, lambda s: s.get("n"))
    assert "renewed" in renewed.kinds
    new = renewed.cookie()
    assert new and new != old
    clock.advance(1)
    served = site.visit(old)
    assert served.session.user_id == "alice" and served.session.handle == handle
    assert served.session.end_reason is None and served.events == []
    with pytest.raises(SessionDataTooLarge):
        served.session["big"] = "x" * 500
    socket = site.visit(old, read_only=True)
    assert socket.session.user_id == "alice"
    with pytest.raises(TypeError):
        socket.session["n"] = 1
    assert socket.ops == () and socket.headers == ()


# -- the store did not answer ------------------------------------------------------------------


def _outage(site: Site, cookie: str, unavailable: Any) -> Visit:
    engine = site.engine
    facts = RequestFacts(cookie=f"{NAME}={cookie}", client=CLIENT, scheme="https")
    begin = engine.begin(facts)
    session = engine.resume(begin, None, facts, unavailable=unavailable)
    events = list(session.pending_events)
    session.pending_events.clear()
    session.get("n")
    commit = engine.commit(session, 200, facts)
    headers, more = engine.finish(commit, APPLIED, facts)
    return Visit(session, commit.ops, headers, events + more)


@pytest.mark.parametrize(
    ("unavailable", "detail"),
    [
        pytest.param(True, {}, id="bare"),
        pytest.param(
            {"store": "redis://10.0.0.9:6379/0", "cause": "TimeoutError"},
            {"store": "redis://10.0.0.9:6379/0", "cause": "TimeoutError"},
            id="described",
        ),
    ],
)
def test_a_store_outage_is_reported_and_keeps_the_cookie(
    clock: FakeClock, unavailable: Any, detail: dict[str, str]
) -> None:
    """backend_down names the client and the store's own description; the user's cookie is
    not dropped and nothing is purged, so the session comes back with the store."""
    site = Site(clock, MemoryBackend())
    cookie, _ = _login(site)
    visit = _outage(site, cookie, unavailable)
    assert visit.kinds == ["backend_down"]
    event = visit.events[0]
    assert event.client == CLIENT and event.detail == detail
    assert visit.session.is_new and visit.session.end_reason is None
    assert visit.ops == ()
    assert visit.cookie() is None
    assert site.visit(cookie).session.user_id == "alice"


def test_the_grace_window_keeps_the_successor_alive(clock: FakeClock) -> None:
    """A request on the old cookie inside the window touches the successor like its own
    cookie would (RS-02), so a tab still holding the old cookie does not let it go idle."""
    site = Site(clock, MemoryBackend(), renew_interval=10 * MIN, touch_interval=1)
    old, _ = _login(site)
    clock.advance(11 * MIN)
    assert "renewed" in site.visit(old).kinds
    clock.advance(2)
    served = site.visit(old, lambda s: s.get("n"))
    assert served.session.user_id == "alice"
    (patch,) = served.ops
    assert isinstance(patch, Patch) and patch.meta["last_active"] == clock()
