"""Which cookie a commit sends, and for how long the browser keeps it (``cookie_lifetime``).

``"remember"`` (the default) makes remember-me cookies last until their
absolute limit and never re-sends them; ``"sliding"`` (Flask's permanent
sessions) makes remember-me cookies follow the sliding expiry, re-sent at
each touch; ``"always"`` (Starlette's ``max_age``) does that for every
session.  Flipping remember-me on a live session (Flask's
``session.permanent``) re-sends the same ID with the new lifetime.
"""

from __future__ import annotations

import pytest

from sessionware import Session

from .commit_site import CLIENT, Site

DAY = 24 * 3600


def _read(session: Session) -> None:
    session.get("n")


def _permanent(session: Session) -> None:
    # What Flask's ``session.permanent = True`` does (sessionware.integrations.flask).
    session.want_remember = True
    session.mark_modified()


def _not_permanent(session: Session) -> None:
    session.want_remember = False
    session.mark_modified()


def test_always_gives_every_session_a_sliding_max_age() -> None:
    """An anonymous cookie lasts idle_timeout, and each touch re-sends it for as long again."""
    site = Site(cookie_lifetime="always", idle_timeout=1800, touch_interval=60)
    created = site.request(lambda s: s.update(n=1))
    assert created.max_age == 1800
    site.clock.advance(61)
    touched = site.request(_read, created.value)
    assert touched.value == created.value and touched.max_age == 1800
    site.clock.advance(30)
    assert site.request(_read, created.value).set_cookie is None  # no touch due yet


def test_always_near_the_absolute_limit_never_outlives_the_session() -> None:
    """The re-sent Max-Age stops at the absolute deadline, like the record does."""
    site = Site(
        cookie_lifetime="always", idle_timeout=1800, absolute_timeout=2000, touch_interval=60
    )
    created = site.request(lambda s: s.update(n=1))
    site.clock.advance(1000)
    touched = site.request(_read, created.value)
    assert touched.max_age == 1000


def test_always_gives_remember_me_its_own_idle_limit() -> None:
    """A remember-me login under "always" slides over remember_timeout."""
    site = Site(cookie_lifetime="always")
    assert site.login(remember=True).max_age == 30 * DAY


def test_sliding_leaves_plain_sessions_as_browser_session_cookies() -> None:
    """Without remember-me nothing persists, and a touch sends no cookie."""
    site = Site(cookie_lifetime="sliding", touch_interval=60)
    created = site.request(lambda s: s.update(n=1))
    assert created.value is not None and created.max_age is None
    site.clock.advance(61)
    assert site.request(_read, created.value).set_cookie is None


def test_sliding_remember_me_cookies_follow_the_sliding_expiry() -> None:
    """A remember-me cookie lasts remember_timeout from the last touch, re-sent at each."""
    site = Site(cookie_lifetime="sliding", touch_interval=60)
    login = site.login(remember=True)
    assert login.max_age == 30 * DAY
    site.clock.advance(DAY)
    touched = site.request(_read, login.value)
    assert touched.value == login.value and touched.max_age == 30 * DAY


def test_remember_cookies_last_until_the_absolute_limit_and_are_not_resent() -> None:
    """The default: Max-Age is the absolute limit, fixed at login; touches send nothing."""
    site = Site(touch_interval=60)
    login = site.login(remember=True)
    assert login.max_age == 90 * DAY
    site.clock.advance(DAY)
    assert site.request(_read, login.value).set_cookie is None


@pytest.mark.parametrize("mode", ["remember", "sliding", "always"])
def test_making_a_session_permanent_resends_its_id_until_the_absolute_limit(mode: str) -> None:
    """session.permanent = True keeps the ID and the absolute deadline it has, persists
    the cookie and gives the session the remember-me idle limit."""
    site = Site(cookie_lifetime=mode, idle_timeout=1800, touch_interval=60)
    login = site.login()
    site.clock.advance(100)
    flipped = site.request(_permanent, login.value)
    # the plain absolute limit (12 h) still holds, and is nearer than remember_timeout
    assert flipped.value == login.value and flipped.max_age == 12 * 3600 - 100
    site.clock.advance(1801)
    still = site.request(_read, login.value).session
    assert still.user_id == "ann" and still.remember is True


@pytest.mark.parametrize("mode", ["remember", "sliding"])
def test_making_a_session_not_permanent_resends_a_browser_session_cookie(mode: str) -> None:
    """session.permanent = False re-sends the same ID without Max-Age and the plain idle limit."""
    site = Site(cookie_lifetime=mode, idle_timeout=1800, touch_interval=60)
    login = site.login(remember=True)
    site.clock.advance(100)
    flipped = site.request(_not_permanent, login.value)
    assert flipped.value == login.value and flipped.max_age is None
    site.clock.advance(1801)
    assert site.request(_read, login.value).session.user_id is None


def test_asking_permanent_before_login_makes_a_remember_me_login() -> None:
    """Flask apps set session.permanent, then log in: the login is remember-me."""
    site = Site()

    def app(session: Session) -> None:
        session.want_remember = True
        session.login("ann")

    reply = site.request(app)
    assert reply.max_age == 90 * DAY
    assert site.request(_read, reply.value).session.remember is True


def test_a_permanent_anonymous_session_persists_its_cookie() -> None:
    """session.permanent on a new anonymous session: a remember-me record and cookie."""
    site = Site()

    def app(session: Session) -> None:
        session.want_remember = True
        session["n"] = 1

    reply = site.request(app)
    assert reply.max_age == 90 * DAY
    assert site.request(_read, reply.value).session.remember is True


@pytest.mark.parametrize(("mode", "max_age"), [("remember", None), ("always", 1800)])
def test_data_written_after_a_logout_starts_a_plain_session(mode: str, max_age: int | None) -> None:
    """logout() then a flash message: a new anonymous session, never remember-me, with
    the cookie a plain session gets in this mode and its own ``created`` event."""
    site = Site(cookie_lifetime=mode, idle_timeout=1800)
    login = site.login(remember=True)

    def app(session: Session) -> None:
        session.logout()
        session["flash"] = "bye"

    reply = site.request(app, login.value)
    assert reply.value not in (None, login.value) and reply.max_age == max_age
    (created,) = [e for e in reply.events if e.kind == "created"]
    after = site.request(_read, reply.value).session
    assert after.user_id is None and after["flash"] == "bye" and after.remember is False
    assert created.client == CLIENT and created.handle == after.handle
    assert created.handle not in (None, login.session.handle)


def test_logout_without_a_cookie_sends_no_cookie() -> None:
    """A visitor with no session who hits /logout gets no Set-Cookie at all."""
    reply = Site().request(lambda s: s.logout())
    assert reply.set_cookie is None


def test_logout_with_a_dead_cookie_tells_the_browser_to_drop_it() -> None:
    """A cookie whose session is gone is deleted on logout, like any dead cookie."""
    site = Site()
    cookie = site.login().value
    site.request(lambda s: s.logout(), cookie)
    assert site.request(lambda s: s.logout(), cookie).deleted


def test_a_deletion_alone_is_saved_before_any_touch_is_due() -> None:
    """``del session[key]`` with nothing else changed is written at once."""
    site = Site(touch_interval=60)
    cookie = site.request(lambda s: s.update(a=1, b=2)).value
    site.request(lambda s: s.pop("a"), cookie)
    assert dict(site.request(_read, cookie).session) == {"b": 2}


def _set_and_unset(session: Session) -> None:
    session["tmp"] = 1
    del session["tmp"]


def test_a_write_that_changes_nothing_neither_touches_nor_resends() -> None:
    """A key set and deleted again in one request, before a touch is due: the stored
    session is left as it was and no cookie is sent, even under "always"."""
    site = Site(cookie_lifetime="always", touch_interval=60)
    created = site.request(lambda s: s.update(n=1))
    before = site.request(_read, created.value).session.last_active
    site.clock.advance(10)
    assert site.request(_set_and_unset, created.value).set_cookie is None
    site.clock.advance(10)
    assert site.request(_read, created.value).session.last_active == before
