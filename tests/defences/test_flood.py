"""Session floods: one client's anonymous sessions are bounded by evicting its own oldest.

Rewritten for #13: creations past the limit used to get 429, so a page with a
few dozen ``<img>`` tags aimed at a session-writing page locked everyone
behind the victim's address out of it, logins included.  Now nothing is
refused: the flooder's oldest anonymous sessions go, and logins never count.
"""

from __future__ import annotations

from sessionware.config import GuardConfig

FLOODER = "198.51.100.7"


def test_creations_past_the_limit_evict_that_clients_oldest(make, kind) -> None:
    """The 61st anonymous session from one client is stored and its oldest evicted, one event."""
    h = make(kind)
    cookies = []
    for _ in range(70):
        resp = h.request("/write", client=FLOODER)
        assert resp.status == 200 and resp.cookie()
        cookies.append(resp.cookie())
    assert len(h.backend.inner) == 60
    assert h.kinds().count("flood") == 1
    assert h.request("/", cookie=cookies[0], client=FLOODER).json()["n"] is None  # evicted
    assert h.request("/", cookie=cookies[-1], client=FLOODER).json()["n"] == 1


def test_the_limit_is_per_client(make, kind) -> None:
    """Another client's anonymous sessions are never evicted by a flooder."""
    h = make(kind, guard=GuardConfig(create_limit=5))
    other = h.request("/write", client="203.0.113.9").cookie()
    for _ in range(50):
        h.request("/write", client=FLOODER)
    assert h.request("/", cookie=other, client="203.0.113.9").json()["n"] == 1
    assert len(h.backend.inner) == 6


def test_logins_are_never_limited_or_evicted(make, kind) -> None:
    """Many users behind one address all sign in; their sessions survive an anonymous flood."""
    h = make(kind, guard=GuardConfig(create_limit=3))
    users = [h.request("/login", client=FLOODER).cookie() for _ in range(20)]
    for _ in range(40):
        assert h.request("/write", client=FLOODER).status == 200
    for cookie in users:
        resp = h.request("/", cookie=cookie, client=FLOODER)
        assert resp.status == 200 and resp.json()["user"] == "alice"


def test_updates_do_not_count(make, kind) -> None:
    """Writes to an existing session are not new sessions."""
    h = make(kind, guard=GuardConfig(create_limit=1))
    cookie = h.request("/write").cookie()
    for _ in range(20):
        assert h.request("/write", cookie=cookie).status == 200
    assert h.request("/", cookie=cookie).json()["n"] == 21
    assert "flood" not in h.kinds()


def test_reads_never_count(make, kind) -> None:
    """A cookieless flood that never writes creates no record and hits no limit (RS-01)."""
    h = make(kind, guard=GuardConfig(create_limit=1))
    for _ in range(200):
        assert h.request("/", client=FLOODER).status == 200
    assert len(h.backend.inner) == 0
    assert h.backend.total == 0


def test_the_ledger_stays_bounded_under_address_cycling(make) -> None:
    """Sessions from 5,000 addresses leave at most ``max_clients`` keys remembered (AN-06)."""
    h = make("asgi", guard=GuardConfig(max_clients=1000))
    for i in range(5000):
        assert h.request("/write", client=f"10.0.{i // 250}.{i % 250}").status == 200
    assert h.mw.shared.ledger.entries() <= 1000
