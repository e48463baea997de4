"""The engine's answers field by field: each event's client and detail, each commit's headers.

Adapters and the guard act on these fields (the client an event names is the
one the guard counts; ``presented`` decides whether a dead cookie is
expired), so they are pinned exactly rather than by kind alone.
"""

from __future__ import annotations

import pytest

from sessionware import Event, RequestFacts, SessionConfig, SessionDataTooLarge
from sessionware.cookies import MAX_HEADER
from sessionware.core import NO_SESSION, Begin, Engine
from sessionware.ids import new_id
from sessionware.records import ApplyResult, Record
from sessionware.session import Session, TaggedSession

from ..conftest import SECRET

NOW = 1_800_000_000.0
CLIENT = "198.51.100.7"
ID_LIKE = "A" * 30
NAME = "__Host-session"


def engine(**fields: object) -> Engine:
    config = SessionConfig(secret_keys=[SECRET], max_data_bytes=100, **fields)  # type: ignore[arg-type]
    return Engine(config, clock=lambda: NOW)


def facts(cookie: str | None = None, path: str = "/", query: str = "", **kw: str) -> RequestFacts:
    return RequestFacts(path=path, query=query, cookie=cookie, client=CLIENT, **kw)


def live_record(**fields: object) -> Record:
    values: dict[str, object] = {
        "key": "k" * 64,
        "handle": "h-1",
        "created_at": NOW - 100,
        "last_active": NOW - 10,
        "expires_at": NOW + 1000,
        "absolute_at": NOW + 5000,
        "data": {"n": "1"},
    }
    values.update(fields)
    return Record(**values)  # type: ignore[arg-type]


def shape(events: object) -> list[tuple[object, ...]]:
    """Events without their timestamps."""
    return [(e.kind, e.client, e.handle, e.user_id, e.detail) for e in events]  # type: ignore[attr-defined]


# -- begin ----------------------------------------------------------------------------


def test_a_url_id_event_names_the_client_and_the_path_before_every_parameter() -> None:
    """``/a;x=1;jsessionid=<id>``: 400, and the event's path is ``/a`` (AN-04: no ID logged)."""
    begin = engine().begin(facts(path=f"/a;x=1;jsessionid={ID_LIKE}"))
    assert begin.status == 400
    assert shape(begin.events) == shape([Event("url_id", CLIENT, detail={"path": "/a"})])


def test_an_ignored_url_id_without_cookie_keeps_its_event() -> None:
    """``url_id_policy="ignore"`` and no cookie: no refusal, but the event is still there."""
    begin = engine(url_id_policy="ignore").begin(facts(query=f"sid={ID_LIKE}"))
    assert begin.status is None and begin.key is None and not begin.presented
    assert shape(begin.events) == shape([Event("url_id", CLIENT, detail={"path": "/"})])


def test_an_ignored_url_id_beside_a_valid_cookie_keeps_its_event() -> None:
    """The same beside a cookie that verifies: the key, and the URL event with it."""
    eng = engine(url_id_policy="ignore")
    value = eng.ids.sign(new_id())
    begin = eng.begin(facts(cookie=f"{NAME}={value}", query=f"sid={ID_LIKE}"))
    assert begin.key is not None and begin.presented
    assert [e.kind for e in begin.events] == ["url_id"]


def test_a_request_without_anything_is_the_shared_empty_begin() -> None:
    """No cookie, no URL ID: the engine's one empty answer."""
    assert engine().begin(facts()) is NO_SESSION
    assert engine().begin(facts(cookie="theme=dark")) is NO_SESSION


def test_a_cookie_header_at_the_limit_is_read_and_one_byte_past_it_is_not() -> None:
    """RS-03: ``MAX_HEADER`` bytes are parsed; one more is ``oversized`` with its size."""
    eng = engine()
    at_limit = "a=" + "x" * (MAX_HEADER - len(NAME) - 4) + f"; {NAME}"
    assert len(at_limit) == MAX_HEADER
    assert [e.kind for e in eng.begin(facts(cookie=at_limit)).events] != ["oversized"]
    past = at_limit + "x"
    begin = eng.begin(facts(cookie=past))
    assert begin.presented is True and begin.key is None
    assert shape(begin.events) == shape(
        [Event("oversized", CLIENT, detail={"cookie_bytes": MAX_HEADER + 1})]
    )


def test_tossed_cookies_are_reported_with_their_count() -> None:
    """FX-05: two cookies with our name: ``cookie_tossing``, count 2, presented, no key."""
    begin = engine().begin(facts(cookie=f"{NAME}=a; {NAME}=b"))
    assert begin.presented is True and begin.key is None
    assert shape(begin.events) == shape([Event("cookie_tossing", CLIENT, detail={"count": 2})])


def test_a_forged_cookie_is_reported_with_its_length() -> None:
    """ID-07: our shape with a wrong signature: ``bad_signature`` with the value's length."""
    forged = new_id() + "." + "B" * 43
    begin = engine().begin(facts(cookie=f"{NAME}={forged}"))
    assert begin.presented is True and begin.key is None
    assert shape(begin.events) == shape([Event("bad_signature", CLIENT, detail={"length": 87})])


# -- resume ---------------------------------------------------------------------------


def test_a_store_failure_reports_its_detail_and_the_client() -> None:
    """RS-05: ``unavailable`` as a mapping becomes the event's detail; ``True`` an empty one."""
    eng, key = engine(), Begin(key="k" * 64, presented=True)
    session = eng.resume(key, None, facts(), unavailable={"store": "memory", "cause": "boom"})
    assert session.store_unavailable
    assert shape(session.pending_events) == shape(
        [Event("backend_down", CLIENT, detail={"store": "memory", "cause": "boom"})]
    )
    session = eng.resume(key, None, facts(), unavailable=True)
    assert shape(session.pending_events) == shape([Event("backend_down", CLIENT, detail={})])


def test_an_unknown_id_names_the_client() -> None:
    """A verified cookie whose record is gone: ``unknown_id`` for this client."""
    session = engine().resume(Begin(key="k" * 64, presented=True), None, facts())
    assert shape(session.pending_events) == shape([Event("unknown_id", CLIENT)])
    assert session.presented


@pytest.mark.parametrize("stored", [True, False])
def test_a_resumed_session_keeps_the_size_limit(stored: bool) -> None:
    """Both a stored and a new session refuse a write past ``max_data_bytes``."""
    eng = engine()
    if stored:
        session = eng.resume(Begin(key="k" * 64, presented=True), live_record(), facts())
    else:
        session = eng.resume(Begin(), None, facts())
    with pytest.raises(SessionDataTooLarge):
        session["big"] = "x" * 200


# -- commit ---------------------------------------------------------------------------


def test_secure_auto_drops_secure_over_plain_http_only() -> None:
    """``secure="auto"``: the new cookie is Secure over https and not over http (CK-01)."""
    eng = engine(secure="auto", cookie_name="session")
    for scheme, secure in (("https", True), ("http", False)):
        at = facts(scheme=scheme)
        session = eng.resume(Begin(), None, at)
        session["n"] = 1
        cookie = dict(eng.commit(session, 200, at).headers)["set-cookie"]
        assert ("; Secure" in cookie) is secure, scheme


def test_a_first_write_commits_a_cookie_and_a_failed_one_only_varies() -> None:
    """A new session: Vary, Set-Cookie, no-store; if the store fails, only Vary is sent."""
    eng = engine()
    session = eng.resume(Begin(), None, facts())
    session["n"] = 1
    commit = eng.commit(session, 200, facts())
    assert commit.sets_cookie is True and commit.handle is None
    assert [name for name, _ in commit.headers] == ["vary", "set-cookie", "cache-control"]
    headers, _ = eng.finish(commit, ApplyResult(False), facts())
    assert headers == (("vary", "Cookie"),)


def test_a_write_to_a_stored_session_names_its_handle_and_sets_no_cookie() -> None:
    """A patch: the commit carries the session's handle, no cookie change, only Vary."""
    eng = engine()
    session = eng.resume(Begin(key="k" * 64, presented=True), live_record(), facts())
    session["n"] = 2
    commit = eng.commit(session, 200, facts())
    assert commit.ops and commit.sets_cookie is False and commit.handle == "h-1"
    assert commit.headers == (("vary", "Cookie"),)


def test_an_untouched_dead_cookie_is_expired_with_vary() -> None:
    """A verified cookie whose record is gone, untouched: deletion cookie, and Vary with it."""
    eng = engine()
    session = eng.resume(Begin(key="k" * 64, presented=True), None, facts())
    commit = eng.commit(session, 200, facts())
    names = [name for name, _ in commit.headers]
    assert names[0] == "vary" and "set-cookie" in names


def test_an_untouched_session_due_a_touch_writes_without_vary() -> None:
    """Only the expiry slides: a patch, no cookie, and nothing that varies the response."""
    eng = engine()
    due = live_record(last_active=NOW - eng.config.touch_s - 1)
    session = eng.resume(Begin(key="k" * 64, presented=True), due, facts())
    commit = eng.commit(session, 200, facts())
    assert commit.ops and commit.headers == ()


def test_clear_site_data_is_sent_on_logout_only() -> None:
    """CK-08: ``clear_site_data=True`` adds the header to a logout, never to another write."""
    eng = engine(clear_site_data=True)
    stored = live_record(user_id="erin")
    session = eng.resume(Begin(key="k" * 64, presented=True), stored, facts())
    session["n"] = 2
    assert "clear-site-data" not in dict(eng.commit(session, 200, facts()).headers)
    session = eng.resume(Begin(key="k" * 64, presented=True), stored, facts())
    session.logout()
    headers = eng.commit(session, 200, facts()).headers
    assert ("clear-site-data", '"cache", "cookies", "storage"') in headers


@pytest.mark.parametrize("ignore", [False, True])
def test_our_name_inside_another_cookie_is_no_session(ignore: bool) -> None:
    """``x__Host-session=1``: our name as part of another cookie's is not ours (FX-06)."""
    eng = engine(url_id_policy="ignore")
    query = f"sid={ID_LIKE}" if ignore else ""
    begin = eng.begin(facts(cookie=f"x{NAME}=1; {NAME}-old=2", query=query))
    assert begin.key is None and not begin.presented
    if ignore:
        assert shape(begin.events) == shape([Event("url_id", CLIENT, detail={"path": "/"})])
    else:
        assert begin is NO_SESSION


def test_a_failed_touch_expires_the_cookie_and_varies() -> None:
    """A touch whose record vanished meanwhile: the failure set expires the cookie, with Vary."""
    eng = engine(secure="auto", cookie_name="session")
    due = live_record(last_active=NOW - eng.config.touch_s - 1)
    at = facts(scheme="http")
    session = eng.resume(Begin(key="k" * 64, presented=True), due, at)
    commit = eng.commit(session, 200, at)
    headers, _ = eng.finish(commit, ApplyResult(False), at)
    assert [name for name, _ in headers] == ["vary", "set-cookie", "cache-control"]
    cookie = dict(headers)["set-cookie"]
    assert cookie.startswith("session=;") and "Secure" not in cookie  # plain http, secure="auto"


def test_the_tagged_codec_gives_flask_tagged_sessions() -> None:
    """``codec="tagged"``: values Flask's tagged JSON can hold (bytes) are accepted."""
    assert engine().session_type is Session
    eng = engine(codec="tagged")
    assert eng.session_type is TaggedSession
    session = eng.resume(Begin(), None, facts())
    session["b"] = b"raw"
    assert session["b"] == b"raw"
    plain = engine().resume(Begin(), None, facts())
    with pytest.raises((TypeError, ValueError)):
        plain["b"] = b"raw"


def test_an_expired_record_is_deleted_and_its_cookie_expired_with_nothing_on_failure() -> None:
    """Untouched and expired: a delete and a deletion cookie; if that fails, nothing is sent."""
    eng = engine()
    expired = live_record(absolute_at=NOW, user_id="u")
    session = eng.resume(Begin(key="k" * 64, presented=True), expired, facts())
    commit = eng.commit(session, 200, facts())
    assert [type(op).__name__ for op in commit.ops] == ["Delete"]
    assert [name for name, _ in commit.headers] == ["vary", "set-cookie", "cache-control"]
    assert commit.failed == ()


def test_a_write_that_leaves_nothing_still_varies() -> None:
    """Set then delete on a new session: nothing stored, but the response read the session."""
    eng = engine()
    session = eng.resume(Begin(), None, facts())
    session["a"] = 1
    del session["a"]
    commit = eng.commit(session, 200, facts())
    assert commit.ops == () and commit.headers == (("vary", "Cookie"),)
