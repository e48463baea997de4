"""Brute force (AN-01): forged credentials get their sender's forgeries refused, nobody locked out.

Rewritten for #13: a block used to refuse every request of the blocked
client (signed-in ones included) and counted URL IDs, unknown IDs and
duplicate cookies, so any web page could lock a site's users out.  Now only
forged credentials the sender itself presented count, and a block refuses
only the blocked client's failing credentials.
"""

from __future__ import annotations

from sessionware.config import GuardConfig
from sessionware.ids import new_id

from .conftest import forged

ATTACKER = "198.51.100.7"


def test_ten_thousand_forged_cookies_block_only_the_forgeries(make) -> None:
    """10,000 forged cookies: 429 + Retry-After + deletion cookie from the 21st, no backend read."""
    h = make("asgi")
    statuses = []
    for _ in range(10_000):
        resp = h.request("/", cookie=forged(), client=ATTACKER)
        statuses.append(resp.status)
        if resp.status == 429:
            assert resp.header("retry-after") == "300"
            assert resp.cookie() == ""  # the presented cookie is expired
    first_blocked = statuses.index(429)
    assert first_blocked == 20  # 20 are allowed; the 21st starts the block and is refused
    assert set(statuses[first_blocked:]) == {429}
    assert h.backend.calls["load"] == 0  # a bad signature never reaches the store
    alarms = [e for e in h.events if e.kind == "brute_force" and e.client is not None]
    assert len(alarms) == 1
    assert alarms[0].client == ATTACKER and alarms[0].detail["limit"] == 20


def test_a_block_never_refuses_a_valid_session_or_no_credential(make, kind) -> None:
    """The blocked client's own signed-in user, and its cookieless requests, pass as usual."""
    h = make(kind, guard=GuardConfig(bad_limit=3))
    signed_in = h.request("/login", client=ATTACKER).cookie()
    for _ in range(4):
        h.request("/", cookie=forged(), client=ATTACKER)
    assert h.request("/", cookie=forged(), client=ATTACKER).status == 429
    mine = h.request("/write", cookie=signed_in, client=ATTACKER)
    assert mine.status == 200 and mine.json()["user"] == "alice"
    assert h.request("/", client=ATTACKER).status == 200
    assert h.request("/write", client=ATTACKER, method="POST").status == 200
    stale = h.mw.engine.ids.sign(new_id())  # signed by us, record gone: not a forgery
    assert h.request("/", cookie=stale, client=ATTACKER).status == 200


def test_a_stale_cookie_recovers_on_the_next_request(make, kind) -> None:
    """A browser refused for a retired-key cookie drops it and is served on its next request."""
    h = make(kind, guard=GuardConfig(bad_limit=2))
    for _ in range(3):
        h.request("/", cookie=forged(), client=ATTACKER)
    refused = h.request("/", cookie=forged(), client=ATTACKER)
    assert refused.status == 429 and refused.cookie() == ""
    assert "Max-Age=0" in (refused.header("set-cookie") or "")
    assert h.request("/login", client=ATTACKER).status == 200  # without the dropped cookie


def test_block_lifts_after_cool_down(make, kind) -> None:
    """A blocked client's forgeries are answered normally again once ``block_for`` has passed."""
    h = make(kind, guard=GuardConfig(bad_limit=3, block_for=30))
    for _ in range(4):
        h.request("/", cookie=forged(), client=ATTACKER)
    blocked = h.request("/", cookie=forged(), client=ATTACKER)
    assert blocked.status == 429
    assert 1 <= int(blocked.header("retry-after")) <= 30
    h.clock.advance(31)
    assert h.request("/", cookie=forged(), client=ATTACKER).status == 200


def test_repeats_during_a_block_do_not_extend_it(make, kind) -> None:
    """Forgeries sent while blocked are not counted, so the block ends on time."""
    h = make(kind, guard=GuardConfig(bad_limit=3, block_for=30))
    for _ in range(4):
        h.request("/", cookie=forged(), client=ATTACKER)
    for _ in range(20):
        h.clock.advance(1.4)
        assert h.request("/", cookie=forged(), client=ATTACKER).status == 429
    h.clock.advance(3)
    assert h.request("/", cookie=forged(), client=ATTACKER).status == 200
    assert h.kinds().count("brute_force") == 1


def test_parallel_requests_with_one_forged_value_count_once(make, kind) -> None:
    """One browser sending one bad cookie on 50 parallel requests is not a guesser."""
    h = make(kind)
    value = forged()
    for _ in range(50):
        assert h.request("/asset", cookie=value).status == 200
    assert "brute_force" not in h.kinds()
    assert h.kinds().count("bad_signature") == 50


def test_nothing_a_third_party_page_can_send_counts(make, kind) -> None:
    """URL IDs, stale or foreign cookies, duplicates and cookieless requests never block."""
    h = make(kind, guard=GuardConfig(bad_limit=2), url_id_policy="ignore")
    stale = h.mw.engine.ids.sign(new_id())
    tossed = {"cookie": f"__Host-session={forged()}; __Host-session={forged()}"}
    for i in range(30):
        h.request(f"/x.png?sid=kR3v9xQe0YwT2bN7mLp4sH{i:02d}", client=ATTACKER)
        h.request("/", cookie=h.mw.engine.ids.sign(new_id()), client=ATTACKER)
        h.request("/", cookie=f"legacy.{i}", client=ATTACKER)
        h.request("/", headers=tossed, client=ATTACKER)
        h.request("/write", method="POST", client=ATTACKER)
    assert "brute_force" not in h.kinds()
    assert {"url_id", "unknown_id", "foreign_cookie", "cookie_tossing"} <= set(h.kinds())
    assert h.request("/", cookie=stale, client=ATTACKER).status == 200
    assert h.request("/", cookie=forged(), client=ATTACKER).status == 200  # still unblocked


def test_a_foreign_cookie_is_its_own_kind(make, kind) -> None:
    """A cookie under our name that is not of our shape is ``foreign_cookie``, not a forgery."""
    h = make(kind)
    h.request("/", cookie="eyJ1c2VyIjoiYWxpY2UifQ==.ZK1x8Q.sig")
    assert h.kinds() == ["foreign_cookie"]


def test_distributed_run_raises_one_global_alarm(make) -> None:
    """Many clients each below the limit still raise one ``brute_force`` with scope=global."""
    h = make("asgi", guard=GuardConfig(global_limit=50))
    for i in range(120):
        h.request("/", cookie=forged(), client=f"10.0.{i // 250}.{i % 250}")
    alarms = [e for e in h.events if e.kind == "brute_force"]
    assert len(alarms) == 1
    assert alarms[0].detail["scope"] == "global"
    assert alarms[0].client is None


def test_guard_off_never_blocks(make, kind) -> None:
    """``guard=None`` switches blocking off entirely."""
    h = make(kind, guard=None)
    for _ in range(100):
        assert h.request("/", cookie=forged(), client=ATTACKER).status == 200
    assert "brute_force" not in h.kinds()


def test_good_requests_touch_no_counter(make, kind) -> None:
    """Valid sessions, logins, anonymous reads and writes leave the guard's tables empty."""
    h = make(kind)
    cookie = h.request("/login").cookie()
    for _ in range(100):
        assert h.request("/write", cookie=cookie).status == 200
        assert h.request("/").status == 200
    assert h.mw.shared.guard.entries() == 0


def test_ipv6_clients_are_counted_per_64(make) -> None:
    """Rotating addresses inside one IPv6 /64 does not escape the block."""
    h = make("asgi", guard=GuardConfig(bad_limit=10))
    for i in range(11):
        h.request("/", cookie=forged(), client=f"2001:db8:1:2::{i + 1:x}")
    assert h.request("/", cookie=forged(), client="2001:db8:1:2:ffff::1").status == 429
    assert h.request("/", cookie=forged(), client="2001:db8:1:3::1").status == 200
