"""What ``Engine.commit`` and ``Engine.finish`` hand back beyond the ops.

``secure="auto"`` (the Starlette and Flask profiles) must drop ``Secure`` on
plain HTTP from *both* header sets, the success one and the one sent when
the store refused the write (a revoked-in-flight session, CC-03), or the
browser ignores the deletion and keeps a dead cookie.  Eviction events name
the request's client and the evicted session's public handle, which is what
an operator uses to tell the user which device was signed out (TM-06).
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionware import Engine, RequestFacts, Session, SessionConfig, SessionManager
from sessionware.backends import MemoryBackend
from sessionware.ids import new_id
from sessionware.records import APPLIED, Patch
from sessionware.testing import FakeClock

from ..conftest import SECRET
from .conftest import Browser, read, write

CLIENT = "198.51.100.23"


def _engine(clock: FakeClock, **fields: Any) -> Engine:
    return Engine(SessionConfig(secret_keys=[SECRET], **fields), clock=clock)


def _facts(engine: Engine, cookie: str | None, scheme: str) -> RequestFacts:
    name = engine.config.cookie_name
    return RequestFacts(cookie=f"{name}={cookie}" if cookie else None, client=CLIENT, scheme=scheme)


def _cookie_value(headers: tuple[tuple[str, str], ...], name: str) -> str:
    (value,) = [v for k, v in headers if k == "set-cookie"]
    assert value.startswith(name + "=")
    return value


def _create(engine: Engine, backend: MemoryBackend, scheme: str = "https") -> tuple[str, Any]:
    """A new session with one key; returns (cookie value, finish() headers)."""
    facts = _facts(engine, None, scheme)
    session = engine.resume(engine.begin(facts), None, facts)
    session["n"] = 1
    commit = engine.commit(session, 200, facts)
    headers, _ = engine.finish(commit, backend.apply(commit.ops, engine.clock()), facts)
    value = _cookie_value(headers, engine.config.cookie_name)
    return value.split(";")[0].partition("=")[2], headers


def _loaded(engine: Engine, backend: MemoryBackend, facts: RequestFacts) -> Session:
    begin = engine.begin(facts)
    assert begin.key is not None
    return engine.resume(begin, backend.load(begin.key, engine.clock()), facts)


@pytest.mark.parametrize(("scheme", "secure"), [("http", False), ("https", True), ("wss", True)])
def test_auto_secure_follows_the_request_scheme(scheme: str, secure: bool) -> None:
    """Under ``secure="auto"`` the new cookie is Secure exactly when the request was."""
    clock = FakeClock(1_800_000_000.0)
    engine = _engine(clock, cookie_name="sid", secure="auto")
    _, headers = _create(engine, MemoryBackend(), scheme)
    assert ("; Secure" in _cookie_value(headers, "sid")) is secure


@pytest.mark.parametrize(("scheme", "secure"), [("http", False), ("https", True)])
def test_auto_secure_applies_to_the_cookie_sent_when_the_store_refuses(
    scheme: str, secure: bool
) -> None:
    """A session revoked while its request ran: the failure headers drop the cookie, in the
    form the browser accepts over this scheme, and never resurrect the record."""
    clock = FakeClock(1_800_000_000.0)
    backend = MemoryBackend()
    engine = _engine(clock, cookie_name="sid", secure="auto")
    cookie, _ = _create(engine, backend)
    facts = _facts(engine, cookie, scheme)
    session = _loaded(engine, backend, facts)
    assert session.handle is not None
    assert SessionManager(backend, clock=clock).revoke(session.handle)
    session["n"] = 2
    commit = engine.commit(session, 200, facts)
    result = backend.apply(commit.ops, clock())
    assert not result.ok
    headers, _ = engine.finish(commit, result, facts)
    deletion = _cookie_value(headers, "sid")
    assert "Max-Age=0" in deletion
    assert ("; Secure" in deletion) is secure
    assert ("cache-control", "no-store") in headers


def test_a_successful_commit_reports_the_session_handle_and_cookie() -> None:
    """``Commit.handle`` names the loaded session; ``sets_cookie`` says a cookie goes out."""
    clock = FakeClock(1_800_000_000.0)
    backend = MemoryBackend()
    engine = _engine(clock)
    cookie, _ = _create(engine, backend)
    facts = _facts(engine, cookie, "https")
    session = _loaded(engine, backend, facts)
    handle = session.handle
    assert handle is not None
    session["n"] = 2
    commit = engine.commit(session, 200, facts)
    assert commit.handle == handle and commit.sets_cookie is False
    session = _loaded(engine, backend, facts)
    session.regenerate()
    commit = engine.commit(session, 200, facts)
    assert commit.handle == handle and commit.sets_cookie is True


def test_eviction_events_name_the_client_and_the_evicted_session() -> None:
    """Logging in beyond max_sessions_per_user reports which session was signed out (TM-06)."""
    clock = FakeClock(1_800_000_000.0)
    backend = MemoryBackend()
    engine = _engine(clock, max_sessions_per_user=1)
    facts = _facts(engine, None, "https")
    first = engine.resume(engine.begin(facts), None, facts)
    first.login("mia")
    commit = engine.commit(first, 200, facts)
    engine.finish(commit, backend.apply(commit.ops, clock()), facts)
    (old,) = backend.by_user("mia", clock())
    clock.advance(1)
    second = engine.resume(engine.begin(facts), None, facts)
    second.login("mia")
    commit = engine.commit(second, 200, facts)
    result = backend.apply(commit.ops, clock())
    assert result.evicted
    _, events = engine.finish(commit, result, facts)
    evicted = [e for e in events if e.kind == "evicted"]
    assert [(e.client, e.handle) for e in evicted] == [(CLIENT, old.handle)]
    assert engine.finish(commit, APPLIED, facts)[1] == list(commit.events)


# -- Vary: Cookie (caching) ---------------------------------------------------------------------
# A response varies on Cookie exactly when the handler used the session or the session cookie
# is set or cleared; a request that never touched the session leaves shared caches alone.


def test_a_dead_cookie_on_an_untouched_request_is_dropped_and_varies(browser: Browser) -> None:
    """Clearing the cookie changes the response per client, even if the app never looked."""
    browser.cookie = browser.engine.ids.sign(new_id())
    response = browser.request()
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    assert response.all("vary") == ["Cookie"]


def test_an_untouched_request_after_the_touch_interval_writes_but_does_not_vary(
    browser: Browser, clock: FakeClock
) -> None:
    """The sliding-expiry write happens behind the scenes; caching is not affected (RS-02)."""
    browser.request(write(n=1))
    clock.advance(61)
    response = browser.request()
    assert [type(op) for op in response.ops] == [Patch]
    assert response.all("vary") == [] and response.set_cookie is None


def test_a_read_after_the_touch_interval_writes_and_varies(
    browser: Browser, clock: FakeClock
) -> None:
    """A handler that read the session varies on Cookie even when no cookie is sent."""
    browser.request(write(n=1))
    clock.advance(61)
    response = browser.request(read())
    assert [type(op) for op in response.ops] == [Patch]
    assert response.all("vary") == ["Cookie"] and response.set_cookie is None


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_a_write_that_cancels_itself_still_varies(browser: Browser, existing: bool) -> None:
    """Setting then deleting a key stores nothing, but the handler used the session."""
    if existing:
        browser.request(write(n=1))

    def app(session: Any) -> None:
        session["tmp"] = 1
        del session["tmp"]

    response = browser.request(app)
    assert response.ops == () and response.set_cookie is None
    assert response.all("vary") == ["Cookie"]


# -- the headers sent when the store refuses the commit (Commit.failed) -----------------------


def _race_for_renewal(read_it: bool) -> tuple[tuple[tuple[str, str], ...], bool]:
    """Two requests renew the same session at once; returns the loser's headers and result."""
    clock = FakeClock(1_800_000_000.0)
    backend = MemoryBackend()
    engine = _engine(clock, renew_interval=600)
    cookie, _ = _create(engine, backend)
    clock.advance(601)
    facts = _facts(engine, cookie, "https")
    winner, loser = _loaded(engine, backend, facts), _loaded(engine, backend, facts)
    if read_it:
        winner.get("n")
        loser.get("n")
    first = engine.commit(winner, 200, facts)
    assert backend.apply(first.ops, clock()).ok
    second = engine.commit(loser, 200, facts)
    result = backend.apply(second.ops, clock())
    headers, events = engine.finish(second, result, facts)
    assert "renewed" in [e.kind for e in events]
    return headers, result.ok


@pytest.mark.parametrize("read_it", [False, True], ids=["untouched", "read"])
def test_a_renewal_that_lost_a_race_keeps_its_cookie(read_it: bool) -> None:
    """The loser sends no cookie (the winner's response carries the new one, FX-07), and
    varies on Cookie exactly when its handler read the session."""
    headers, ok = _race_for_renewal(read_it)
    assert not ok
    assert headers == ((("vary", "Cookie"),) if read_it else ())


@pytest.mark.parametrize("use", ["untouched", "write"])
def test_a_refused_commit_on_a_revoked_session_drops_the_cookie_and_varies(use: str) -> None:
    """Whether the handler wrote or never looked (a due touch), the failure headers clear the
    cookie, forbid caching and vary on Cookie."""
    clock = FakeClock(1_800_000_000.0)
    backend = MemoryBackend()
    engine = _engine(clock)
    cookie, _ = _create(engine, backend)
    clock.advance(61)
    facts = _facts(engine, cookie, "https")
    begin = engine.begin(facts)
    assert begin.key is not None
    record = backend.load(begin.key, clock())
    assert record is not None
    session = engine.resume(begin, record, facts)
    assert SessionManager(backend, clock=clock).revoke(record.handle)
    if use == "write":
        session["n"] = 2
    commit = engine.commit(session, 200, facts)
    result = backend.apply(commit.ops, clock())
    assert not result.ok
    headers, _ = engine.finish(commit, result, facts)
    assert [name for name, _ in headers] == ["vary", "set-cookie", "cache-control"]
    assert headers[0] == ("vary", "Cookie") and headers[2] == ("cache-control", "no-store")
    assert "Max-Age=0" in headers[1][1]


# -- Clear-Site-Data (CK-08) ----------------------------------------------------------------------


def test_clear_site_data_goes_only_with_a_logout(browser: Browser, make_browser: Any) -> None:
    """The header wipes the browser's storage: only logout sends it, under its lowercase name."""
    site = make_browser(clear_site_data=True)
    site.request(lambda s: s.login("ana"))
    assert site.request(write(n=1)).all("clear-site-data") == []
    assert site.request(lambda s: s.regenerate()).all("clear-site-data") == []
    response = site.request(lambda s: s.logout())
    assert ("clear-site-data", '"cache", "cookies", "storage"') in response.headers
    browser.request(lambda s: s.login("ana"))
    assert browser.request(lambda s: s.logout()).all("clear-site-data") == []
