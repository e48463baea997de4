"""Engine decisions with no server: strict mode, lazy creation, ID changes, URLs, cookies, faults.

Expiry edges live in test_expiry.py; both drive the engine through the
``Browser`` helper of this directory's conftest, on a FakeClock and a MemoryBackend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from sessionware import Event, RequestFacts, SessionDataTooLarge, SessionManager
from sessionware.backends import MemoryBackend
from sessionware.ids import new_id
from sessionware.records import Create, Delete, Patch
from sessionware.testing import CountingBackend, FakeClock

from .conftest import Browser, login, read, write

# -- lazy creation and strict mode (RS-01, FX-02) -------------------------------------------


def test_no_cookie_and_no_use_costs_nothing(browser: Browser, backend: MemoryBackend) -> None:
    """A request that never touches the session yields no ops, no headers, no record."""
    response = browser.request()
    assert response.ops == () and response.headers == [] and response.events == []
    assert len(backend) == 0


def test_reading_an_empty_session_creates_nothing(browser: Browser) -> None:
    """Reading a new session varies on Cookie but writes and sets nothing."""
    response = browser.request(read())
    assert response.ops == ()
    assert response.headers == [("vary", "Cookie")]


def test_first_write_creates_record_and_default_cookie(
    browser: Browser, backend: MemoryBackend
) -> None:
    """The first write stores a record and sets a hardened, non-persistent cookie (CK-01, CK-04)."""
    response = browser.request(write(n=1))
    assert [type(op) for op in response.ops] == [Create]
    assert response.ops[0].record.data == {"n": "1"}  # type: ignore[union-attr]  # JSON text
    cookie = response.set_cookie
    assert cookie is not None and cookie.startswith("__Host-session=")
    attrs = [a.strip() for a in cookie.split(";")[1:]]
    assert sorted(attrs) == ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]
    assert response.all("cache-control") == ["no-store"]
    assert response.all("vary") == ["Cookie"]
    assert "created" in response.kinds
    assert len(backend) == 1
    assert browser.request(read()).session == {"n": 1}


def test_a_write_that_leaves_nothing_creates_nothing(browser: Browser) -> None:
    """Setting and deleting a key on a new session stores no empty record."""

    def app(session: Any) -> None:
        session["tmp"] = 1
        del session["tmp"]

    response = browser.request(app)
    assert response.ops == () and response.set_cookie is None


def test_unknown_signed_id_is_anonymous_and_expired(browser: Browser) -> None:
    """A well-signed ID with no record is not adopted: anonymous, unknown_id, cookie dropped."""
    forged = browser.engine.ids.sign(new_id())
    browser.cookie = forged
    response = browser.request(read())
    assert response.session is not None and response.session.is_new
    assert response.kinds == ["unknown_id"]
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    assert response.ops == ()


def test_unknown_id_gets_a_new_id_on_write(browser: Browser, backend: MemoryBackend) -> None:
    """Writing to a session that presented an unknown ID mints a fresh ID (FX-02)."""
    forged = browser.engine.ids.sign(new_id())
    browser.cookie = forged
    response = browser.request(write(n=1))
    assert browser.cookie is not None and browser.cookie != forged
    assert [type(op) for op in response.ops] == [Create]
    assert browser.request(read()).session == {"n": 1}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("A" * 43 + "." + "B" * 43, id="bad-signature"),
        pytest.param("", id="empty"),
        pytest.param("é" * 87, id="non-ascii"),
        pytest.param("x" * 5000, id="overlong"),
    ],
)
def test_bad_cookies_never_reach_the_backend(
    clock: FakeClock, make_browser: Callable[..., Browser], value: str
) -> None:
    """Forged or malformed cookies cost zero backend reads and give an anonymous session (ID-07)."""
    counting = CountingBackend(MemoryBackend())
    browser = make_browser()
    browser.backend = counting  # type: ignore[assignment]
    response = browser.request(read(), cookie=f"__Host-session={value}")
    assert counting.calls["load"] == 0
    assert response.session is not None and response.session.is_new
    kind = "bad_signature" if browser.engine.ids.shaped(value) else "foreign_cookie"
    assert kind in response.kinds
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie


def test_valid_untouched_session_costs_one_read_and_no_write(
    make_browser: Callable[..., Browser],
) -> None:
    """A valid cookie on a request that ignores the session: one load, no apply, no Vary (#13)."""
    counting = CountingBackend(MemoryBackend())
    browser = make_browser()
    browser.backend = counting  # type: ignore[assignment]
    browser.request(write(n=1))
    counting.calls.clear()
    response = browser.request()
    assert dict(counting.calls) == {"load": 1}
    assert response.set_cookie is None
    assert response.all("vary") == []


# -- cookie names and duplicates (FX-05, FX-06) -----------------------------------------------


@pytest.mark.parametrize("name", ["__HOST-session", "__host-session", "__Host-Session", "session"])
def test_cookie_name_is_matched_exactly(browser: Browser, name: str) -> None:
    """A case variant of our name is another cookie and is ignored entirely (FX-06)."""
    browser.request(write(n=1))
    valid = browser.cookie
    response = browser.request(read(), cookie=f"{name}={valid}")
    assert response.session is not None and response.session.is_new
    assert response.events == [] and response.set_cookie is None


def test_duplicate_session_cookies_are_not_trusted(browser: Browser) -> None:
    """Two cookies with our name (even both valid) make the request anonymous (FX-05)."""
    browser.request(write(n=1))
    mine = browser.cookie
    other = Browser(browser.engine, browser.backend)
    other.request(write(n=2))
    header = f"__Host-session={other.cookie}; theme=dark; __Host-session={mine}"
    response = browser.request(read(), cookie=header)
    assert response.session is not None and response.session.is_new
    assert "cookie_tossing" in response.kinds
    # The response drops the cookie at our Path/Domain, but the record itself is unharmed.
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    browser.cookie = mine
    assert browser.request(read("n")).session == {"n": 1}


def test_session_cookie_among_others_is_found(browser: Browser) -> None:
    """Our cookie is read from a header with other cookies around it."""
    browser.request(write(n=1))
    header = f"a=1; __Host-session={browser.cookie}; b=2"
    assert browser.request(read(), cookie=header).session == {"n": 1}


def test_oversized_cookie_header_is_anonymous(browser: Browser) -> None:
    """A Cookie header beyond 16 KiB is not parsed: anonymous plus an event (RS-03)."""
    browser.request(write(n=1))
    header = f"__Host-session={browser.cookie}; pad={'x' * 17000}"
    response = browser.request(read(), cookie=header)
    assert response.session is not None and response.session.is_new
    assert "oversized" in response.kinds


def test_deletion_cookie_repeats_path_domain_secure_samesite(
    make_browser: Callable[..., Browser],
) -> None:
    """Logout's cookie carries the same attributes as the one it deletes (CK-05)."""
    browser = make_browser(
        cookie_name="__Secure-sid", domain="example.com", path="/app", same_site="strict"
    )
    created = browser.request(write(n=1)).set_cookie
    deleted = browser.request(lambda s: s.logout()).set_cookie
    assert created is not None and deleted is not None
    for attr in ("Domain=example.com", "Path=/app", "Secure", "SameSite=Strict", "HttpOnly"):
        assert attr in created and attr in deleted
    assert deleted.startswith("__Secure-sid=;") and "Max-Age=0" in deleted


# -- URL-borne IDs (FX-01) ---------------------------------------------------------------------

#: A value that could be a session ID (22+ URL-safe characters).
V = "kR3v9xQe0YwT2bN7mLp4sHz8"

URL_IDS = [
    pytest.param("", f"sid={V}", id="sid"),
    pytest.param("", f"SID={V}", id="sid-upper"),
    pytest.param("", f"page=2&SessionId={V}", id="sessionid-mixed-case"),
    pytest.param("", f"session_id={V}", id="session_id"),
    pytest.param("", f"session={V}", id="session"),
    pytest.param("", f"JSESSIONID={V}", id="jsessionid"),
    pytest.param("", f"PHPSESSID={V}", id="phpsessid"),
    pytest.param("", f"__host-session={V}", id="cookie-name"),
    pytest.param("", f"%73id={V}", id="percent-encoded-name"),
    pytest.param("", f"a=1&%53%49%44={V}", id="percent-encoded-upper"),
    pytest.param("", "sid=" + "A" * 43 + "." + "B" * 43, id="signed-shape"),
    pytest.param(f"/cart;jsessionid={V}", "", id="path-param"),
    pytest.param(f"/cart;JSESSIONID={V}/items", "", id="path-param-upper-mid-path"),
    pytest.param(f"/a;x=1;sid={V}", "", id="second-path-param"),
]


@pytest.mark.parametrize(("path", "query"), URL_IDS)
def test_url_ids_are_rejected(browser: Browser, path: str, query: str) -> None:
    """A session-looking URL parameter answers 400 with a url_id event under "reject"."""
    response = browser.request(write(n=1), path=path or "/", query=query)
    assert response.status == 400
    assert response.kinds == ["url_id"]
    assert response.session is None


@pytest.mark.parametrize(("path", "query"), URL_IDS)
def test_url_ids_are_ignored_with_an_event(
    make_browser: Callable[..., Browser], path: str, query: str
) -> None:
    """Under "ignore" the request proceeds, raises url_id, and never uses the URL's ID."""
    browser = make_browser(url_id_policy="ignore")
    response = browser.request(read(), path=path or "/", query=query)
    assert response.status == 200 and "url_id" in response.kinds
    assert response.session is not None and response.session.is_new


def test_a_real_id_in_the_url_is_never_adopted(make_browser: Callable[..., Browser]) -> None:
    """Even a valid signed ID in the query string does not load its session."""
    browser = make_browser(url_id_policy="ignore")
    browser.request(write(n=1))
    stolen = browser.cookie
    response = browser.request(read(), query=f"sid={stolen}", cookie="")
    assert response.session is not None and response.session.is_new


@pytest.mark.parametrize(
    ("path", "query"),
    [
        pytest.param("/", "side=1", id="prefix-of-name"),
        pytest.param("/", "q=sid", id="name-as-value"),
        pytest.param("/", "mysid=1", id="suffix"),
        pytest.param("/sid/sessionid", "", id="path-segments"),
        pytest.param("/a;v=1", "", id="harmless-path-param"),
        pytest.param("/", "sid=3", id="short-value"),
        pytest.param("/", "session=dark", id="session-word"),
        pytest.param("/", "sid", id="bare-name"),
        pytest.param("/cart;jsessionid=abc", "", id="short-path-param"),
    ],
)
def test_lookalike_urls_pass(browser: Browser, path: str, query: str) -> None:
    """Names that merely resemble a session parameter, or values no ID could be, pass (#13)."""
    assert browser.request(read(), path=path, query=query).status == 200


# -- login, regenerate, logout, clear (FX-03, FX-04, CK-05) ----------------------------------


def test_login_mints_a_new_id_and_kills_the_old_one(browser: Browser, clock: FakeClock) -> None:
    """login() moves data to a new ID, records user and auth_time; the old cookie is dead."""
    browser.request(write(cart=[1]))
    before = browser.cookie
    clock.advance(5)
    response = browser.request(login("alice"))
    assert browser.cookie is not None and browser.cookie != before
    assert "login" in response.kinds
    after = browser.request(read("cart")).session
    assert after == {"cart": [1]} and after.user_id == "alice"
    assert after.auth_time == clock()
    replay = browser.request(read(), cookie=f"__Host-session={before}")
    assert replay.session is not None and replay.session.is_new
    assert replay.kinds == ["unknown_id"]


def test_login_without_a_prior_session(browser: Browser, backend: MemoryBackend) -> None:
    """Logging in from no session creates one logged-in record."""
    browser.request(login("bob"))
    session = browser.request(read()).session
    assert session is not None and session.user_id == "bob" and not session.is_new
    assert len(backend) == 1


def test_regenerate_keeps_data_user_and_handle(browser: Browser) -> None:
    """regenerate() changes the ID only; the pre-change ID no longer loads anything."""
    browser.request(login("carol"))
    browser.request(write(role="user"))
    old, handle = browser.cookie, browser.request(read()).session.handle  # type: ignore[union-attr]
    response = browser.request(lambda s: (s.__setitem__("role", "admin"), s.regenerate()))
    assert "regenerated" in response.kinds and browser.cookie != old
    session = browser.request(read()).session
    assert session == {"role": "admin"} and session.user_id == "carol"
    assert session.handle == handle
    assert browser.request(read(), cookie=f"__Host-session={old}").session.is_new  # type: ignore[union-attr]


def test_regenerate_sends_only_its_own_changes(browser: Browser) -> None:
    """A rotation's Create carries this request's sets and deletes, not its copy (#18)."""
    browser.request(login("erin"))
    browser.request(write(role="user", theme="dark", seen=1))

    def app(session: Any) -> None:
        session["role"] = "admin"
        del session["theme"]
        session.regenerate()

    (op,) = browser.request(app).ops
    assert isinstance(op, Create) and op.replaces is not None and op.carry
    assert dict(op.set) == {"role": '"admin"'} and op.delete == ("theme",)
    assert op.max_bytes == browser.engine.config.max_data_bytes
    assert op.record.data == {"role": '"admin"', "seen": "1"}  # for stores without carry
    (quiet,) = browser.request(lambda s: s.regenerate()).ops
    assert isinstance(quiet, Create) and quiet.carry
    assert not quiet.set and quiet.delete == () and quiet.max_bytes is None  # nothing to grow


def test_logout_deletes_record_and_expires_cookie(browser: Browser, backend: MemoryBackend) -> None:
    """logout() deletes the record, sends Max-Age=0 and no-store; replay is anonymous."""
    browser.request(login("dave"))
    old = browser.cookie
    response = browser.request(lambda s: s.logout())
    assert [type(op) for op in response.ops] == [Delete]
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    assert response.all("cache-control") == ["no-store"]
    assert "logout" in response.kinds
    assert browser.cookie is None and len(backend) == 0
    replay = browser.request(read(), cookie=f"__Host-session={old}")
    assert replay.session is not None and replay.session.is_new
    assert replay.kinds == ["ended", "logout_replay"]  # 0.2: ended, then its 0.1 alias


def test_clear_site_data_on_logout_when_enabled(make_browser: Callable[..., Browser]) -> None:
    """With clear_site_data=True, logout also asks the browser to wipe its state (CK-08)."""
    browser = make_browser(clear_site_data=True)
    browser.request(login("erin"))
    response = browser.request(lambda s: s.logout())
    assert response.all("clear-site-data") == ['"cache", "cookies", "storage"']


def test_clear_deletes_record_and_expires_cookie(browser: Browser, backend: MemoryBackend) -> None:
    """An emptied session (clear()) ends: record deleted, cookie expired (CK-05)."""
    browser.request(write(n=1))
    response = browser.request(lambda s: s.clear())
    assert [type(op) for op in response.ops] == [Delete]
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    assert len(backend) == 0


def test_deleting_the_last_key_ends_an_anonymous_session(
    browser: Browser, backend: MemoryBackend
) -> None:
    """Like Starlette, an anonymous session whose last key is removed is deleted."""
    browser.request(write(n=1))
    response = browser.request(lambda s: s.pop("n"))
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    assert len(backend) == 0


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda s: s.clear(), id="clear"),
        pytest.param(lambda s: s.logout(), id="logout"),
    ],
)
def test_writes_after_clear_or_logout_start_a_new_session(
    browser: Browser, backend: MemoryBackend, end: Callable[[Any], None]
) -> None:
    """``clear()`` (or ``logout()``) then a write keeps the new data under a new, anonymous ID."""
    browser.request(login("frank"))
    browser.request(write(secret="old"))
    old = browser.cookie

    def app(session: Any) -> None:
        end(session)
        session["flash"] = "bye"

    browser.request(app)
    assert browser.cookie is not None and browser.cookie != old
    session = browser.request(read()).session
    assert session == {"flash": "bye"} and session.user_id is None
    assert browser.request(read(), cookie=f"__Host-session={old}").session.is_new  # type: ignore[union-attr]
    assert len(backend) == 1


def test_max_sessions_per_user_evicts_the_oldest(
    make_browser: Callable[..., Browser], clock: FakeClock
) -> None:
    """Logging in beyond max_sessions_per_user ends the oldest session with an event (TM-06)."""
    first = make_browser(max_sessions_per_user=1)
    first.request(login("gina"))
    clock.advance(1)
    second = Browser(first.engine, first.backend)
    response = second.request(login("gina"))
    assert "evicted" in response.kinds
    assert first.request(read()).session.is_new  # type: ignore[union-attr]
    assert second.request(read()).session.user_id == "gina"  # type: ignore[union-attr]


# -- faults and concurrency (invariants 5, 7, 8) ---------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 599])
def test_5xx_commits_nothing(browser: Browser, backend: MemoryBackend, status: int) -> None:
    """An error response neither creates, changes, rotates nor deletes anything."""
    browser.request(write(n=1))
    cookie = browser.cookie
    for app in (write(n=2), login("x"), lambda s: s.logout(), lambda s: s.regenerate()):
        response = browser.request(app, status=status)
        assert response.ops == () and response.headers == []
    assert browser.cookie == cookie
    assert browser.request(read()).session == {"n": 1}
    assert browser.request(write(m=1), status=status).ops == ()


def test_a_read_only_session_commits_nothing(browser: Browser) -> None:
    """A websocket's read-only session produces no ops and no headers."""
    browser.request(write(n=1))
    response = browser.request(read(), read_only=True)
    assert response.session == {"n": 1}
    assert response.ops == () and response.headers == []


def test_nested_mutation_is_persisted(browser: Browser) -> None:
    """``session["cart"].append(x)`` with no setter is written at commit, never lost."""
    browser.request(write(cart=[1]))
    response = browser.request(lambda s: s["cart"].append(2))
    assert [type(op) for op in response.ops] == [Patch]
    assert browser.request(read()).session == {"cart": [1, 2]}


def test_nested_growth_past_the_limit_raises_at_commit(
    make_browser: Callable[..., Browser],
) -> None:
    """A nested mutation that overflows max_data_bytes is refused at commit."""
    browser = make_browser(max_data_bytes=200)
    browser.request(write(cart=[]))
    with pytest.raises(SessionDataTooLarge):
        browser.request(lambda s: s["cart"].extend(["x" * 50] * 5))


def test_concurrent_requests_keep_both_keys(browser: Browser, backend: MemoryBackend) -> None:
    """Two in-flight requests that set different keys both persist (CC-01)."""
    browser.request(write(base=0))
    engine = browser.engine
    facts = RequestFacts(cookie=f"__Host-session={browser.cookie}")
    sessions = []
    for _ in range(2):
        begin = engine.begin(facts)
        sessions.append(engine.resume(begin, backend.load(begin.key, engine.clock()), facts))  # type: ignore[arg-type]
    sessions[0]["a"] = 1
    sessions[1]["b"] = 2
    for session in sessions:
        assert backend.apply(engine.commit(session, 200, facts).ops, engine.clock()).ok
    assert browser.request(read()).session == {"base": 0, "a": 1, "b": 2}


def _in_flight(browser: Browser, app: Callable[[Any], Any]) -> tuple[Any, ...]:
    """Load a session, revoke it through SessionManager, then let ``app`` write and commit."""
    engine, backend = browser.engine, browser.backend
    facts = RequestFacts(cookie=f"__Host-session={browser.cookie}")
    begin = engine.begin(facts)
    session = engine.resume(begin, backend.load(begin.key, engine.clock()), facts)  # type: ignore[arg-type]
    assert SessionManager(backend, clock=engine.clock).revoke(session.handle)  # type: ignore[arg-type]
    app(session)
    commit = engine.commit(session, 200, facts)
    result = backend.apply(commit.ops, engine.clock())
    headers, _ = engine.finish(commit, result, facts)
    return result, headers


@pytest.mark.parametrize(
    "app",
    [
        pytest.param(write(n=2), id="write"),
        pytest.param(lambda s: s.regenerate(), id="regenerate"),
        pytest.param(lambda s: s["cart"].append(1), id="nested"),
    ],
)
def test_revoked_in_flight_is_not_resurrected(
    browser: Browser, backend: MemoryBackend, app: Callable[[Any], Any]
) -> None:
    """A session revoked while its request ran stays dead, and the response drops the cookie."""
    browser.request(login("hank"))
    browser.request(write(cart=[]))
    result, headers = _in_flight(browser, app)
    assert not result.ok
    assert len(backend) == 0
    cookies = [v for k, v in headers if k == "set-cookie"]
    assert len(cookies) == 1 and "Max-Age=0" in cookies[0]
    assert ("cache-control", "no-store") in headers


def test_revoked_in_flight_touch_is_not_resurrected(
    browser: Browser, backend: MemoryBackend, clock: FakeClock
) -> None:
    """A due sliding-expiry write on a revoked session recreates nothing."""
    browser.request(login("ivy"))
    clock.advance(61)
    result, _ = _in_flight(browser, read())
    assert not result.ok and len(backend) == 0


# -- events never carry secrets (AN-04) -----------------------------------------------------


def test_events_never_contain_ids_or_cookie_values(
    make_browser: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> None:
    """Across a lifecycle and every attack event, no ID or cookie value is logged or emitted."""
    seen: list[Event] = []
    browser = make_browser(on_event=seen.append, url_id_policy="ignore")
    secrets_seen: list[str] = []

    def remember() -> None:
        if browser.cookie:
            secrets_seen.append(browser.cookie)

    caplog.set_level(logging.DEBUG, logger="sessionware.security")
    browser.request(write(n=1))
    remember()
    browser.request(login("judy"))
    remember()
    browser.request(lambda s: s.regenerate())
    remember()
    forged = browser.engine.ids.sign(new_id())
    secrets_seen.append(forged)
    tampered = secrets_seen[-2][:-3] + "AAA"
    browser.request(read(), cookie=f"__Host-session={forged}")
    browser.request(read(), cookie=f"__Host-session={tampered}")
    browser.request(read(), cookie=f"__Host-session={secrets_seen[-2]}; __Host-session={forged}")
    browser.request(read(), query=f"sid={secrets_seen[-2]}")
    browser.request(read(), path=f"/cart;jsessionid={secrets_seen[-2]}")
    browser.cookie = secrets_seen[-2]  # the attacks above made the jar drop it
    browser.request(lambda s: s.logout())
    browser.request(read(), cookie=f"__Host-session={secrets_seen[-2]}")
    kinds = {e.kind for e in seen}
    assert {"created", "login", "regenerated", "unknown_id", "bad_signature"} <= kinds
    assert {"cookie_tossing", "url_id", "logout"} <= kinds
    texts = [repr(e.as_dict()) for e in seen]
    texts += [r.getMessage() + repr(getattr(r, "sessionware_event", "")) for r in caplog.records]
    assert len(caplog.records) >= len(seen)
    structured = [getattr(r, "sessionware_event", None) for r in caplog.records]
    assert all(e is not None and e["kind"] in kinds for e in structured)
    assert {"kind", "client", "handle", "user_id", "detail", "time"} <= set(structured[0])
    for secret in [*secrets_seen, tampered]:
        for part in (secret, secret.split(".")[0], secret.split(".")[-1]):
            assert not any(part in text for text in texts), part


def test_re_login_does_not_evict_the_users_other_sessions(
    make_browser: Callable[..., Browser], clock: FakeClock
) -> None:
    """Logging in again from a session replaces it; it does not count against the limit (TM-06)."""
    laptop = make_browser(max_sessions_per_user=2)
    laptop.request(login("kim"))
    clock.advance(1)
    phone = Browser(laptop.engine, laptop.backend)
    phone.request(login("kim"))
    clock.advance(1)
    response = phone.request(login("kim"))  # re-authentication on the phone
    assert "evicted" not in response.kinds
    assert laptop.request(read()).session.user_id == "kim"  # type: ignore[union-attr]
    assert phone.request(read()).session.user_id == "kim"  # type: ignore[union-attr]
