"""Session floods: new sessions per client are rate-limited, nothing is stored beyond it."""

from __future__ import annotations

from sessionware.config import GuardConfig


def test_creations_past_the_limit_get_429_and_store_nothing(make, kind) -> None:
    """The 61st new session in a minute from one client is refused, with one ``flood`` event."""
    h = make(kind)
    statuses = [h.request("/write", client="198.51.100.7").status for _ in range(70)]
    assert statuses[:60] == [200] * 60
    assert statuses[60:] == [429] * 10
    assert len(h.backend.inner) == 60
    assert h.kinds().count("flood") == 1
    refused = h.request("/write", client="198.51.100.7")
    assert refused.cookie() is None
    assert 1 <= int(refused.header("retry-after")) <= 60


def test_flood_limit_is_per_client_and_recovers(make, kind) -> None:
    """Other clients create sessions meanwhile, and the flooder may again after the window."""
    h = make(kind, guard=GuardConfig(create_limit=5, create_window=10))
    for _ in range(6):
        h.request("/write", client="198.51.100.7")
    assert h.request("/write", client="198.51.100.7").status == 429
    assert h.request("/write", client="203.0.113.9").status == 200
    h.clock.advance(2.5)  # one slot frees every create_window / create_limit seconds
    assert h.request("/write", client="198.51.100.7").status == 200


def test_logins_count_and_updates_do_not(make, kind) -> None:
    """A login is a new session; writes to an existing session are not."""
    h = make(kind, guard=GuardConfig(create_limit=3))
    cookie = h.request("/login").cookie()
    for _ in range(20):
        assert h.request("/write", cookie=cookie).status == 200
    h.request("/login")
    h.request("/login")
    assert h.request("/login").status == 429


def test_reads_never_count(make, kind) -> None:
    """A cookieless flood that never writes creates no record and hits no limit (RS-01)."""
    h = make(kind, guard=GuardConfig(create_limit=1))
    for _ in range(200):
        assert h.request("/", client="198.51.100.7").status == 200
    assert len(h.backend.inner) == 0
    assert h.backend.total == 0
