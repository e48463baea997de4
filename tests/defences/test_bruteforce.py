"""Brute force (AN-01): bad cookies from one client get it blocked, before any backend call."""

from __future__ import annotations

import secrets

from sessionware.config import GuardConfig
from sessionware.ids import new_id

from .conftest import Harness


def forged_or_unknown(h: Harness, i: int) -> str:
    """A random cookie: half garbage (bad signature), half signed-but-unknown IDs."""
    if i % 2:
        return secrets.token_urlsafe(64)
    return h.mw.engine.ids.sign(new_id())


def test_ten_thousand_random_cookies_block_one_client_only(make) -> None:
    """10,000 random cookies: 429 + Retry-After after 20, no backend read after, others fine."""
    h = make("asgi")
    statuses = []
    loads_at_block = None
    for i in range(10_000):
        resp = h.request("/", cookie=forged_or_unknown(h, i), client="198.51.100.7")
        statuses.append(resp.status)
        if resp.status == 429:
            assert resp.header("retry-after") == "300"
            if loads_at_block is None:
                loads_at_block = h.backend.calls["load"]
    first_blocked = statuses.index(429)
    assert first_blocked == 21  # the 21st bad request trips the limit; the 22nd is refused
    assert set(statuses[first_blocked:]) == {429}
    assert h.backend.calls["load"] == loads_at_block  # nothing reached the backend once blocked
    assert h.kinds().count("brute_force") == 1
    alarm = next(e for e in h.events if e.kind == "brute_force")
    assert alarm.client == "198.51.100.7"
    assert alarm.detail["limit"] == 20
    other = h.request("/login", client="203.0.113.9")
    assert other.status == 200
    assert h.request("/", cookie=other.cookie(), client="203.0.113.9").json()["user"] == "alice"


def test_block_lifts_after_cool_down(make, kind) -> None:
    """A blocked client is served again once ``block_for`` has passed."""
    h = make(kind, guard=GuardConfig(bad_limit=3, block_for=30))
    for _ in range(4):
        h.request("/", cookie="forged", client="198.51.100.7")
    blocked = h.request("/", client="198.51.100.7")
    assert blocked.status == 429
    assert 1 <= int(blocked.header("retry-after")) <= 30
    h.clock.advance(31)
    assert h.request("/", client="198.51.100.7").status == 200


def test_blocked_requests_never_reach_the_backend(make, kind) -> None:
    """Once blocked, even a well-signed cookie causes zero backend calls."""
    h = make(kind, guard=GuardConfig(bad_limit=5))
    for _ in range(6):
        h.request("/", cookie=h.mw.engine.ids.sign(new_id()), client="198.51.100.7")
    before = h.backend.total
    for _ in range(50):
        assert (
            h.request("/write", cookie=h.mw.engine.ids.sign(new_id()), client="198.51.100.7").status
            == 429
        )
    assert h.backend.total == before


def test_good_requests_touch_no_counter(make, kind) -> None:
    """Valid sessions, anonymous reads and writes leave every guard table empty."""
    h = make(kind)
    cookie = h.request("/login").cookie()
    for _ in range(100):
        assert h.request("/write", cookie=cookie).status == 200
        assert h.request("/").status == 200
    assert h.mw.shared.guard.entries() == 1  # only the one creation (the login) was counted


def test_parallel_requests_with_one_stale_cookie_count_once(make, kind) -> None:
    """One browser replaying its dead cookie on 50 parallel requests is not a guesser."""
    h = make(kind)
    stale = h.mw.engine.ids.sign(new_id())
    for _ in range(50):
        assert h.request("/asset", cookie=stale).status == 200
    assert "brute_force" not in h.kinds()
    assert h.kinds().count("unknown_id") == 50


def test_url_ids_and_cookie_tossing_count(make, kind) -> None:
    """URL-borne IDs and duplicate cookies count like forged ones."""
    h = make(kind, guard=GuardConfig(bad_limit=4))
    for _ in range(3):
        assert h.request("/?sid=abc", client="198.51.100.7").status == 400
    tossed = {"cookie": "__Host-session=a; __Host-session=b"}
    h.request("/", headers=tossed, client="198.51.100.7")
    h.request("/", headers=tossed, client="198.51.100.7")
    assert h.kinds().count("brute_force") == 1
    assert h.request("/", client="198.51.100.7").status == 429


def test_distributed_run_raises_one_global_alarm(make) -> None:
    """Many clients each below the limit still raise one ``brute_force`` with scope=global."""
    h = make("asgi", guard=GuardConfig(global_limit=50))
    for i in range(120):
        h.request("/", cookie="forged", client=f"10.0.{i // 250}.{i % 250}")
    alarms = [e for e in h.events if e.kind == "brute_force"]
    assert len(alarms) == 1
    assert alarms[0].detail["scope"] == "global"
    assert alarms[0].client is None


def test_guard_off_never_blocks(make, kind) -> None:
    """``guard=None`` switches blocking off entirely."""
    h = make(kind, guard=None)
    for _ in range(100):
        assert h.request("/", cookie="forged", client="198.51.100.7").status == 200
    assert "brute_force" not in h.kinds()


def test_ipv6_clients_are_counted_per_64(make) -> None:
    """Rotating addresses inside one IPv6 /64 does not escape the block."""
    h = make("asgi", guard=GuardConfig(bad_limit=10))
    for i in range(11):
        h.request("/", cookie="forged", client=f"2001:db8:1:2::{i + 1:x}")
    assert h.request("/", client="2001:db8:1:2:ffff::1").status == 429
    assert h.request("/", client="2001:db8:1:3::1").status == 200
