"""Session binding (AN-03): a coarse fingerprint taken at login, checked on every request."""

from __future__ import annotations

import pytest

from sessionware.fingerprint import fingerprint, network_prefix

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX_NEWER = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"


def logged_in(h, client: str = "203.0.113.5") -> str:
    cookie = h.request("/login", client=client).cookie()
    assert cookie
    return cookie


def test_prefixes_are_coarse() -> None:
    """IPv4 binds to its /24, IPv6 to its /64; unknown addresses to ``-``."""
    assert network_prefix("203.0.113.77") == "203.0.113.0/24"
    assert network_prefix("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert network_prefix("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert network_prefix(None) == network_prefix("not-an-ip") == "-"
    assert fingerprint("203.0.113.5", FIREFOX_NEWER).endswith("|Firefox on Linux")


def test_login_records_the_fingerprint(make, kind) -> None:
    """The stored record carries ``info["fp"]`` from the login request."""
    h = make(kind)
    logged_in(h)
    (ops,) = h.backend.applied
    assert ops[0].record.info["fp"] == "203.0.113.0/24|Firefox on Linux"


@pytest.mark.parametrize("policy", ["log", "revoke"])
def test_moves_inside_the_prefix_and_browser_updates_do_not_trigger(make, kind, policy) -> None:
    """Another address in the same /24, or a newer same-family browser, is the same client."""
    h = make(kind, binding=policy)
    cookie = logged_in(h)
    assert h.request("/", cookie=cookie, client="203.0.113.200").json()["user"] == "alice"
    assert h.request("/", cookie=cookie, agent=FIREFOX_NEWER).json()["user"] == "alice"
    assert "binding_mismatch" not in h.kinds()


def test_log_policy_raises_an_event_and_keeps_the_session(make, kind) -> None:
    """``binding="log"``: a request from another network is served and reported."""
    h = make(kind, binding="log")
    cookie = logged_in(h)
    resp = h.request("/", cookie=cookie, client="198.51.100.1")
    assert resp.json()["user"] == "alice"
    event = next(e for e in h.events if e.kind == "binding_mismatch")
    assert event.client == "198.51.100.1"
    assert event.user_id == "alice"
    assert event.detail["bound"] == "203.0.113.0/24|Firefox on Linux"
    assert event.detail["seen"] == "198.51.100.0/24|Firefox on Linux"
    assert event.detail["action"] == "logged"
    assert len(h.backend.inner) == 1


def test_revoke_policy_ends_the_session(make, kind) -> None:
    """``binding="revoke"``: another browser family gets an anonymous request, the record dies."""
    h = make(kind, binding="revoke")
    cookie = logged_in(h)
    resp = h.request("/", cookie=cookie, agent=CHROME_MAC)
    assert resp.json()["user"] is None
    assert resp.cookie() == ""  # the cookie is expired
    assert len(h.backend.inner) == 0
    event = next(e for e in h.events if e.kind == "binding_mismatch")
    assert event.detail["action"] == "revoked"
    # The legitimate owner is logged out as well: the stolen ID is dead everywhere.
    assert h.request("/", cookie=cookie).json()["user"] is None


def test_revoke_tolerates_ipv6_moves_inside_the_64(make, kind) -> None:
    """An IPv6 client changing its interface ID keeps its session under ``revoke``."""
    h = make(kind, binding="revoke")
    cookie = logged_in(h, client="2001:db8:1:2::10")
    assert h.request("/", cookie=cookie, client="2001:db8:1:2:dead::1").json()["user"] == "alice"
    assert h.request("/", cookie=cookie, client="2001:db8:1:3::10").json()["user"] is None


def test_binding_off_ignores_changes(make, kind) -> None:
    """``binding="off"`` neither reports nor revokes."""
    h = make(kind, binding="off")
    cookie = logged_in(h)
    assert (
        h.request("/", cookie=cookie, client="198.51.100.1", agent=CHROME_MAC).json()["user"]
        == "alice"
    )
    assert "binding_mismatch" not in h.kinds()


def test_anonymous_sessions_are_not_bound(make, kind) -> None:
    """Only logged-in sessions carry a fingerprint; an anonymous cart follows the user anywhere."""
    h = make(kind, binding="revoke")
    cookie = h.request("/write").cookie()
    assert h.request("/", cookie=cookie, client="198.51.100.1").json()["n"] == 1
