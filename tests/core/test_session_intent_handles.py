"""What login(), regenerate(), clear() and csrf_token() promise within the same request.

Apps log ``session.handle`` and pass it to ``revoke_user(user, keep=...)``
right after ``login()``, so the handle must already name the session being
stored; a regenerate keeps it; a cleared session has none to offer.
"""

from __future__ import annotations

import string

from sessionware import Session
from sessionware.records import Create, Record

from .conftest import Browser


def stored() -> Record:
    return Record(
        key="k",
        handle="h-old",
        created_at=0.0,
        last_active=0.0,
        expires_at=10.0,
        absolute_at=10.0,
        user_id="u1",
    )


def test_login_defaults_to_a_browser_session() -> None:
    """login() without remember= is not remember-me (the cookie is not persistent)."""
    session = Session()
    session.login("u1")
    assert session.remember is False


def test_handle_after_login_is_the_new_sessions(browser: Browser) -> None:
    """The handle read right after login() is the one the stored record gets, not the old one."""
    browser.request(lambda s: s.__setitem__("cart", [1]))
    before = browser.request(lambda s: s.get("cart")).session
    assert before is not None and before.handle is not None
    seen: list[str | None] = []

    def app(session: Session) -> None:
        session.login("alice")
        seen.append(session.handle)

    response = browser.request(app)
    created = [op.record for op in response.ops if isinstance(op, Create)]
    assert len(created) == 1
    assert seen == [created[0].handle] and seen[0] != before.handle


def test_login_of_a_stored_session_changes_its_handle() -> None:
    """A pre-login handle (maybe known to an attacker) is not the logged-in session's."""
    session = Session(stored())
    session.login("u2")
    assert session.handle not in (None, "h-old")


def test_regenerate_keeps_a_stored_sessions_handle() -> None:
    """regenerate() changes the ID only; the handle stays the one already listed."""
    session = Session(stored())
    session.regenerate()
    assert session.handle == "h-old"


def test_regenerate_of_a_fresh_session_names_its_future_record_once() -> None:
    """A new session gets its handle at regenerate(), and a second call does not move it."""
    session = Session()
    session.regenerate()
    handle = session.handle
    assert isinstance(handle, str) and handle
    session.regenerate()
    assert session.handle == handle


def test_regenerate_after_login_keeps_the_login_handle() -> None:
    """login() then regenerate() in one request: the handle is the login's new one."""
    session = Session(stored())
    session.login("u2")
    handle = session.handle
    session.regenerate()
    assert session.handle == handle and session.user_id == "u2"


def test_clear_after_login_forgets_the_handle_it_minted() -> None:
    """A fresh session that logged in and was cleared again has no handle to report."""
    session = Session()
    session.login("u1")
    session.clear()
    assert session.handle is None and session.user_id is None


def test_reading_an_existing_csrf_token_reads_the_session() -> None:
    """csrf_token() with a token already stored marks the session accessed (Vary: Cookie)."""
    session = Session()
    token = session.csrf_token()
    again = Session()
    dict.__setitem__(again, "_csrf_token", token)
    assert again.csrf_token() == token
    assert again.accessed is True and again.modified is False


def test_csrf_token_carries_256_bits() -> None:
    """The synchronizer token is 32 random bytes, URL-safe base64 without padding."""
    token = Session().csrf_token()
    assert len(token) == 43
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


def test_a_default_login_stores_a_browser_session(browser: Browser) -> None:
    """Through the engine, a login() without remember= stores a non-remember record."""
    response = browser.request(lambda s: s.login("bob"))
    created = [op.record for op in response.ops if isinstance(op, Create)]
    assert [r.remember for r in created] == [False]
