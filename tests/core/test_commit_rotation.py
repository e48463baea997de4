"""What an ID rotation carries to the new record, and what the size cap lets through.

``regenerate()`` and periodic renewals move a session to a new ID: the
user, its limits, its binding and every change of the request must follow,
or a privilege change silently logs users out, lengthens or shortens their
session, or unbinds it from the browser.  The data cap (``max_data_bytes``)
is checked on every path that writes data the app's assignments did not
measure (nested changes, rotations, new records); its boundary is inclusive.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionware import Session, SessionDataTooLarge, SessionManager
from sessionware.records import encode, entry_size

from .commit_site import CLIENT, OTHER_AGENT, Site

CART = ["abcdef"] * 6


def _fill(session: Session) -> None:
    session["a"] = 1
    session["b"] = 2


def _move(session: Session) -> None:
    del session["a"]
    session["c"] = 3
    session.regenerate()


def test_regenerate_keeps_who_when_and_every_change_of_the_request() -> None:
    """The new ID has the same user, handle, creation and login times and remember flag,
    and the request's writes and deletions land on it."""
    site = Site()
    login = site.login(remember=True)
    born = site.clock()
    site.request(_fill, login.value)
    site.clock.advance(100)
    moved = site.request(_move, login.value)
    assert moved.value not in (None, login.value)
    after = site.request(lambda s: s.get("b"), moved.value).session
    assert dict(after) == {"b": 2, "c": 3}
    assert after.user_id == "ann" and after.handle == login.session.handle
    assert after.created_at == born and after.auth_time == born
    assert after.remember is True


def test_a_regenerated_remember_me_session_keeps_its_long_idle_limit() -> None:
    """Rotation must not shorten a remember-me session to the plain idle timeout."""
    site = Site(idle_timeout=600, remember_timeout=7200, touch_interval=60)
    cookie = site.login(remember=True).value
    moved = site.request(lambda s: s.regenerate(), cookie).value
    site.clock.advance(601)
    assert site.request(lambda s: s.get("n"), moved).session.user_id == "ann"


def test_a_regenerated_session_stays_bound_to_its_browser() -> None:
    """The binding fingerprint taken at login follows the rotation (AN-03)."""
    site = Site(binding="revoke")
    cookie = site.login().value
    moved = site.request(lambda s: s.regenerate(), cookie).value
    stolen = site.request(lambda s: s.get("n"), moved, agent=OTHER_AGENT)
    assert stolen.session.user_id is None
    assert stolen.session.end_reason == "binding"


def test_regenerate_carries_data_exactly_at_the_cap() -> None:
    """A session measuring max_data_bytes exactly is within the limit, rotated or not."""
    site = Site(max_data_bytes=200)
    cookie = site.login().value
    blob = "x" * 190
    assert entry_size("blob", encode(blob)) == 200

    def app(session: Session) -> None:
        session["blob"] = blob
        session.regenerate()

    moved = site.request(app, cookie)
    assert moved.value is not None
    assert site.request(lambda s: s.get("n"), moved.value).session["blob"] == blob


def test_regenerate_refuses_a_nested_change_past_the_cap() -> None:
    """A list grown in place is only measured at commit; the rotation raises with both sizes."""
    site = Site(max_data_bytes=60)
    cookie = site.login().value

    def app(session: Session) -> None:
        session["cart"] = []
        session["cart"].extend(CART)
        session.regenerate()

    with pytest.raises(SessionDataTooLarge) as caught:
        site.request(app, cookie)
    assert caught.value.size == entry_size("cart", encode(CART)) == 63
    assert caught.value.limit == 60


def test_regenerate_of_untouched_data_survives_a_lowered_cap() -> None:
    """Data stored under a larger cap is moved as it is: lowering max_data_bytes does not
    make regenerate() (or a renewal) fail for sessions that write nothing."""
    big = Site()
    cookie = big.login().value
    big.request(lambda s: s.update(blob="x" * 500), cookie)
    small = Site(big.clock, big.backend, max_data_bytes=100)
    moved = small.request(lambda s: s.regenerate(), cookie)
    assert moved.value is not None
    assert small.request(lambda s: s.get("n"), moved.value).session["blob"] == "x" * 500


def test_a_new_session_exactly_at_the_cap_is_stored() -> None:
    """The cap is inclusive for a new record too."""
    site = Site(max_data_bytes=200)
    reply = site.request(lambda s: s.update(blob="x" * 190))
    assert reply.value is not None
    assert site.request(lambda s: s.get("n"), reply.value).session["blob"] == "x" * 190


def _grow_cart(session: Session) -> None:
    session["cart"].extend(CART)


def test_a_new_session_counts_every_key_against_the_cap() -> None:
    """A nested change measured at commit adds to the other keys, not instead of them."""
    site = Site(max_data_bytes=200)

    def app(session: Session) -> None:
        session["blob"] = "x" * 150
        session["cart"] = []
        _grow_cart(session)

    with pytest.raises(SessionDataTooLarge) as caught:
        site.request(app)
    assert caught.value.size == 160 + 63 and caught.value.limit == 200


def test_a_nested_change_counts_the_stored_keys_against_the_cap() -> None:
    """On an existing session the untouched stored keys count too (not only the changed one)."""
    site = Site(max_data_bytes=200)
    cookie = site.request(lambda s: s.update(blob="x" * 150, cart=[])).value
    with pytest.raises(SessionDataTooLarge) as caught:
        site.request(_grow_cart, cookie)
    assert caught.value.size == 160 + 63 and caught.value.limit == 200
    stored = site.request(lambda s: s.get("cart"), cookie).session
    assert stored["cart"] == []


def test_a_session_from_an_unknown_address_lists_an_empty_ip() -> None:
    """list_sessions shows "" when the server had no client address, never a placeholder."""
    site = Site()
    site.request(lambda s: s.login("ann"), client=None)
    (info,) = SessionManager(site.backend, clock=site.clock).list_sessions("ann")
    assert info.ip == ""
    site.request(lambda s: s.login("bob"))
    (known,) = SessionManager(site.backend, clock=site.clock).list_sessions("bob")
    assert known.ip == "203.0.113.5"


def test_the_handle_read_during_login_names_the_stored_session() -> None:
    """session.handle read in the login request is the handle the new record gets
    (what an app shows as "this device" and what the login event carries)."""
    site = Site()
    seen: dict[str, Any] = {}

    def app(session: Session) -> None:
        session.login("ann")
        seen["handle"] = session.handle

    reply = site.request(app)
    assert seen["handle"] is not None
    (event,) = [e for e in reply.events if e.kind == "login"]
    assert event.handle == seen["handle"]
    assert site.request(lambda s: s.get("n"), reply.value).session.handle == seen["handle"]


def test_an_anonymous_session_gets_a_handle_when_it_is_created() -> None:
    """The created event and the stored session share one non-empty handle."""
    site = Site()
    reply = site.request(lambda s: s.update(n=1))
    (event,) = [e for e in reply.events if e.kind == "created"]
    assert event.handle and event.client == CLIENT
    assert site.request(lambda s: s.get("n"), reply.value).session.handle == event.handle


def test_deleting_keys_of_data_over_a_lowered_cap_is_saved() -> None:
    """Only writes are capped: a session stored under a larger cap can always shrink."""
    big = Site()
    cookie = big.login().value
    big.request(lambda s: s.update(blob="x" * 500, a=1), cookie)
    small = Site(big.clock, big.backend, max_data_bytes=100)
    small.clock.advance(1)
    assert small.request(lambda s: s.pop("a"), cookie).ok
    assert dict(small.request(lambda s: s.get("n"), cookie).session) == {"blob": "x" * 500}
