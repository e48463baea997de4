"""What a commit leaves behind when a session ends or moves, as a replayed cookie sees it.

A signed-in session that ends keeps a tombstone at its storage key, so the
next presentation of its cookie is told why (``end_reason``, the ``ended``
event) instead of reading as an unknown ID; a rotated one names its
successor, which is what lets ``on_stale_reuse="revoke"`` sign out both
holders of a copied cookie.  Each test replays the old cookie and checks the
answer.
"""

from __future__ import annotations

from sessionware import Event, Session
from sessionware.planning import ENDED_MEMORY, Planner
from sessionware.records import Record

from .commit_site import CLIENT, OTHER_AGENT, Site


def _logout(session: Session) -> None:
    session.logout()


def _clear(session: Session) -> None:
    session.clear()


def test_logging_out_a_session_revoked_for_binding_keeps_the_binding_reason() -> None:
    """Binding broke and the app logs out in the same request: the record goes, and
    its cookie replayed from the original browser reads "binding", not "unknown"."""
    site = Site(binding="revoke")
    cookie = site.login().value
    reply = site.request(_logout, cookie, agent=OTHER_AGENT)
    assert reply.deleted
    again = site.request(lambda s: s.get("n"), cookie)
    assert again.session.user_id is None
    assert again.session.end_reason == "binding"
    assert again.kinds == ["ended"]


def test_a_session_revoked_for_binding_keeps_the_reason_for_its_owner() -> None:
    """Binding breaks on a plain read: the record is purged with a "binding" tombstone,
    so the owner's next request is told why it was signed out."""
    site = Site(binding="revoke")
    cookie = site.login().value
    stolen = site.request(lambda s: s.get("n"), cookie, agent=OTHER_AGENT)
    assert stolen.deleted and stolen.session.user_id is None
    again = site.request(lambda s: s.get("n"), cookie)
    assert again.session.user_id is None and again.session.end_reason == "binding"


def test_clearing_a_session_revoked_for_binding_deletes_it_for_every_browser() -> None:
    """clear() on the unbound session still purges the stored record (not just this view)."""
    site = Site(binding="revoke")
    cookie = site.login().value
    site.request(_clear, cookie, agent=OTHER_AGENT)
    again = site.request(lambda s: s.get("n"), cookie)
    assert again.session.user_id is None and again.session.end_reason == "binding"


def test_login_over_a_session_revoked_for_binding_keeps_the_binding_reason() -> None:
    """The new login gets a fresh session; the unbound one's cookie still says why it ended."""
    site = Site(binding="revoke")
    cookie = site.login().value
    fresh = site.request(lambda s: s.login("ann"), cookie, agent=OTHER_AGENT)
    assert fresh.value is not None and fresh.value != cookie
    again = site.request(lambda s: s.get("n"), cookie)
    assert again.session.user_id is None and again.session.end_reason == "binding"
    assert site.request(lambda s: s.get("n"), fresh.value, agent=OTHER_AGENT).session.user_id


def test_login_over_a_live_session_names_the_successor_and_revoke_ends_it() -> None:
    """A second login rotates the ID: the old cookie, replayed after the grace window,
    raises stale_reuse naming the new session, and under "revoke" ends it too."""
    site = Site(on_stale_reuse="revoke", rotation_grace=5)
    first = site.login()
    second = site.request(lambda s: s.login("ann"), first.value)
    new_handle = second.session.handle
    site.clock.advance(10)
    replay = site.request(lambda s: s.get("n"), first.value)
    assert replay.session.end_reason == "rotated"
    (stale,) = [e for e in replay.events if e.kind == "stale_reuse"]
    assert stale.detail["successor"] == new_handle
    assert stale.detail["successor_user"] == "ann"
    after = site.request(lambda s: s.get("n"), second.value)
    assert after.session.user_id is None
    assert after.session.end_reason == "revoked" and after.session.ended_by == "stale_reuse"


def test_regenerate_then_a_stale_replay_under_revoke_signs_out_both_holders() -> None:
    """The revocation is stored with who asked, raised as an event, and the cookie dropped."""
    site = Site(on_stale_reuse="revoke", rotation_grace=5)
    first = site.login()
    moved = site.request(lambda s: s.regenerate(), first.value)
    handle = moved.session.handle
    assert moved.value is not None and handle is not None
    site.clock.advance(10)
    replay = site.request(lambda s: s.get("n"), first.value)
    assert replay.deleted
    revoked = [e for e in replay.events if e.kind == "revoked"]
    assert revoked == [
        Event("revoked", CLIENT, handle, "ann", {"by": "stale_reuse"}, revoked[0].time)
    ]
    after = site.request(lambda s: s.get("n"), moved.value)
    assert after.session.user_id is None
    assert after.session.end_reason == "revoked" and after.session.ended_by == "stale_reuse"
    assert site.backend.load_handle(handle, site.clock()) is None


def test_regenerate_without_revoke_leaves_the_successor_signed_in() -> None:
    """Under the default "log", a stale replay names the successor but ends nothing."""
    site = Site(rotation_grace=5)
    first = site.login()
    moved = site.request(lambda s: s.regenerate(), first.value)
    site.clock.advance(10)
    replay = site.request(lambda s: s.get("n"), first.value)
    (stale,) = [e for e in replay.events if e.kind == "stale_reuse"]
    assert stale.detail["successor"] == moved.session.handle
    assert site.request(lambda s: s.get("n"), moved.value).session.user_id == "ann"


def test_a_signed_in_session_that_idles_out_in_the_store_says_so() -> None:
    """The store drops the record at its idle deadline and keeps why: "idle", not unknown."""
    site = Site(idle_timeout=600, touch_interval=60)
    cookie = site.login().value
    site.clock.advance(601)
    replay = site.request(lambda s: s.get("n"), cookie)
    assert replay.session.end_reason == "idle"
    assert replay.kinds == ["ended", "expired"]


def test_a_regenerated_session_that_idles_out_in_the_store_says_so() -> None:
    """The rotated record keeps its expiry tombstone too."""
    site = Site(idle_timeout=600, touch_interval=60)
    cookie = site.login().value
    moved = site.request(lambda s: s.regenerate(), cookie).value
    site.clock.advance(601)
    replay = site.request(lambda s: s.get("n"), moved)
    assert replay.session.end_reason == "idle"


def test_a_renewed_session_that_idles_out_in_the_store_says_so() -> None:
    """The same after a periodic renewal (renew_interval)."""
    site = Site(idle_timeout=600, touch_interval=60, renew_interval=120)
    cookie = site.login().value
    site.clock.advance(121)
    renewed = site.request(lambda s: s.get("n"), cookie)
    assert renewed.kinds == ["renewed"] and renewed.value not in (None, cookie)
    site.clock.advance(601)
    replay = site.request(lambda s: s.get("n"), renewed.value)
    assert replay.session.end_reason == "idle"


def test_a_renewal_that_loses_a_race_keeps_the_browser_cookie() -> None:
    """Two requests renew the same ID at once: the loser sends no Set-Cookie at all
    (the winner's response carries the new ID, FX-07), never a deletion."""
    site = Site(renew_interval=60)
    cookie = site.login().value
    site.clock.advance(61)
    first, second = site.open(cookie), site.open(cookie)
    won = site.close(first)
    assert won.ok and won.value not in (None, cookie)
    lost = site.close(second)
    assert not lost.ok
    assert lost.set_cookie is None


def test_a_regenerate_that_loses_a_race_drops_the_cookie() -> None:
    """An explicit rotation that finds its record gone tells the browser to drop the ID."""
    site = Site()
    cookie = site.login().value
    first, second = site.open(cookie), site.open(cookie)
    first.session.regenerate()
    second.session.regenerate()
    assert site.close(first).ok
    lost = site.close(second)
    assert not lost.ok and lost.deleted


def _planner(site: Site) -> Planner:
    return site.engine.planner


def test_the_engine_remembers_the_most_recent_logouts_and_forgets_the_oldest() -> None:
    """Exactly ENDED_MEMORY logged-out keys are kept for replay reports; the oldest go first."""
    planner = _planner(Site())
    for n in range(ENDED_MEMORY):
        planner.remember_ended(f"k{n}")
    assert len(planner.ended) == ENDED_MEMORY and "k0" in planner.ended
    planner.remember_ended("newest")
    assert "k0" not in planner.ended
    assert "k1" in planner.ended and "newest" in planner.ended
    assert len(planner.ended) == ENDED_MEMORY


def test_a_touch_is_due_only_once_touch_interval_has_passed() -> None:
    """The hot path skips planning until then (due); renewals make it due on their own."""
    site = Site(touch_interval=60)
    now = site.clock()
    planner = _planner(site)
    rec = Record("k", "h", now - 1000, now - 30, now + 600, now + 3600)
    assert not planner.due(rec)
    site.clock.advance(30)
    assert planner.due(rec)
    renewing = _planner(Site(site.clock, touch_interval=60, renew_interval=120))
    fresh = Record("k", "h", now + 30 - 200, now + 30, now + 600, now + 3600)
    assert renewing.due(fresh) and not planner.due(fresh)
