"""Expiry edges on a fake clock: idle, absolute, remember-me, touch_interval, renew_interval.

"Just before" is one millisecond before a limit; "at" is the limit itself,
which already counts as expired (EX-01, EX-02: a deadline is exclusive).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionware.backends import MemoryBackend
from sessionware.config import MAX_COOKIE_AGE
from sessionware.records import Create, Patch
from sessionware.testing import FakeClock

from .conftest import Browser, login, read, write

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0
EPS = 0.001


def alive(browser: Browser) -> bool:
    session = browser.request(read()).session
    assert session is not None
    return not session.is_new


def max_age(cookie: str | None) -> int | None:
    assert cookie is not None
    for attr in cookie.split(";"):
        name, _, value = attr.strip().partition("=")
        if name == "Max-Age":
            return int(value)
    return None


# -- idle --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        pytest.param(-EPS, True, id="just-before"),
        pytest.param(0.0, False, id="at"),
        pytest.param(+EPS, False, id="just-after"),
        pytest.param(+DAY, False, id="long-after"),
    ],
)
def test_idle_timeout_edges(
    browser: Browser, clock: FakeClock, offset: float, expected: bool
) -> None:
    """A session unused for idle_timeout (30 min) is dead at that instant, alive just before."""
    browser.request(write(n=1))
    clock.advance(30 * MIN + offset)
    assert alive(browser) is expected


def test_activity_slides_the_idle_deadline(browser: Browser, clock: FakeClock) -> None:
    """Each touch moves the idle deadline, so a session used every 20 minutes lives on."""
    browser.request(write(n=1))
    for _ in range(6):
        clock.advance(20 * MIN)
        assert alive(browser)


def test_a_dead_session_gets_its_cookie_expired(browser: Browser, clock: FakeClock) -> None:
    """After idle expiry the stale cookie gets Max-Age=0 and a new write gets a new ID."""
    browser.request(write(n=1))
    old = browser.cookie
    clock.advance(31 * MIN)
    response = browser.request(read())
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    browser.cookie = old
    browser.request(write(n=2))
    assert browser.cookie not in (None, old)


def test_the_engine_enforces_limits_the_store_would_not(
    clock: FakeClock, backend: MemoryBackend, make_browser: Callable[..., Browser]
) -> None:
    """A record the store still returns is expired by the engine's own config (EX-01)."""
    browser = make_browser(idle_timeout=30 * MIN)
    browser.request(write(n=1))
    strict = make_browser(idle_timeout=10 * MIN)
    strict.cookie = browser.cookie
    clock.advance(10 * MIN)
    response = strict.request(read())
    assert response.session is not None and response.session.is_new
    assert response.kinds == ["ended", "expired"]  # 0.2: ended, then its 0.1 alias
    assert "Max-Age=0" in (response.set_cookie or "")
    assert len(backend) == 0  # the expired record is purged


# -- absolute ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        pytest.param(-EPS, True, id="just-before"),
        pytest.param(0.0, False, id="at"),
        pytest.param(+EPS, False, id="just-after"),
    ],
)
def test_absolute_timeout_edges_despite_activity(
    browser: Browser, clock: FakeClock, offset: float, expected: bool
) -> None:
    """Continuous activity cannot keep a session past absolute_timeout (12 h) (EX-02)."""
    browser.request(write(n=1))
    for _ in range(35):  # every 20 minutes up to 11 h 40 min
        clock.advance(20 * MIN)
        assert alive(browser)
    clock.advance(20 * MIN + offset)
    assert alive(browser) is expected


def test_absolute_deadline_counts_from_creation_not_login(
    browser: Browser, clock: FakeClock
) -> None:
    """A login starts a new session whose absolute limit counts from the login."""
    browser.request(write(n=1))
    clock.advance(11 * HOUR)
    browser.request(login("alice"))
    for _ in range(5):
        clock.advance(20 * MIN)
        assert alive(browser)


# -- remember-me (EX-03, CK-04) ------------------------------------------------------------


def test_plain_login_cookie_is_not_persistent(browser: Browser) -> None:
    """Without remember=True the cookie has neither Max-Age nor Expires (CK-04)."""
    cookie = browser.request(login("bob")).set_cookie
    assert cookie is not None
    assert max_age(cookie) is None and "Expires" not in cookie


def test_remember_me_cookie_lasts_until_the_remember_absolute_limit(browser: Browser) -> None:
    """remember=True gives a persistent cookie with Max-Age = remember_absolute_timeout."""
    cookie = browser.request(login("carol", remember=True)).set_cookie
    assert max_age(cookie) == 90 * DAY
    assert browser.request(read()).session.remember is True  # type: ignore[union-attr]


def test_remember_me_cookie_is_capped_at_400_days(make_browser: Callable[..., Browser]) -> None:
    """Max-Age never exceeds the 400-day browser cap, whatever the config (RFC 6265bis §5.5)."""
    browser = make_browser(remember_absolute_timeout=1000 * DAY)
    cookie = browser.request(login("dave", remember=True)).set_cookie
    assert max_age(cookie) == MAX_COOKIE_AGE == 34_560_000


@pytest.mark.parametrize(
    ("idle", "expected"),
    [
        pytest.param(30 * DAY - EPS, True, id="just-before-remember-idle"),
        pytest.param(30 * DAY, False, id="at-remember-idle"),
        pytest.param(2 * HOUR, True, id="past-normal-idle"),
    ],
)
def test_remember_me_idle_limit(
    browser: Browser, clock: FakeClock, idle: float, expected: bool
) -> None:
    """A remembered session idles out at remember_timeout (30 d), not idle_timeout."""
    browser.request(login("erin", remember=True))
    clock.advance(idle)
    assert alive(browser) is expected


@pytest.mark.parametrize(
    ("offset", "expected"),
    [pytest.param(-EPS, True, id="just-before"), pytest.param(0.0, False, id="at")],
)
def test_remember_me_absolute_limit(
    browser: Browser, clock: FakeClock, offset: float, expected: bool
) -> None:
    """Even a remembered session used every 20 days ends at remember_absolute_timeout (90 d)."""
    browser.request(login("frank", remember=True))
    for _ in range(4):
        clock.advance(20 * DAY)
        assert alive(browser)
    clock.advance(10 * DAY + offset)
    assert alive(browser) is expected


# -- touch_interval (RS-02, EX-06) ---------------------------------------------------------


def test_reads_within_touch_interval_write_nothing(browser: Browser, clock: FakeClock) -> None:
    """Reads before touch_interval (60 s) has passed produce no backend op at all."""
    browser.request(write(n=1))
    for _ in range(5):
        clock.advance(11)
        response = browser.request(read())
        assert response.ops == () and response.set_cookie is None


def test_first_read_after_touch_interval_writes_one_metadata_patch(
    browser: Browser, clock: FakeClock
) -> None:
    """At touch_interval one Patch moves last_active and the deadline; no cookie is sent."""
    browser.request(write(n=1))
    clock.advance(60 - EPS)
    assert browser.request(read()).ops == ()
    clock.advance(EPS)
    response = browser.request(read())
    assert len(response.ops) == 1
    patch = response.ops[0]
    assert isinstance(patch, Patch)
    assert patch.set == {} and patch.delete == ()
    assert patch.meta["last_active"] == clock()
    assert patch.meta["expires_at"] == clock() + 30 * MIN
    assert response.set_cookie is None
    assert browser.request(read()).ops == ()  # and not again right after


def test_custom_touch_interval(make_browser: Callable[..., Browser], clock: FakeClock) -> None:
    """touch_interval is configurable: with 5 minutes, a read at 4 minutes writes nothing."""
    browser = make_browser(touch_interval=5 * MIN)
    browser.request(write(n=1))
    clock.advance(4 * MIN)
    assert browser.request(read()).ops == ()
    clock.advance(MIN)
    assert [type(op) for op in browser.request(read()).ops] == [Patch]


# -- renew_interval (FX-07) ------------------------------------------------------------------


def test_no_rotation_before_renew_interval(
    make_browser: Callable[..., Browser], clock: FakeClock
) -> None:
    """Before renew_interval the ID stays the same."""
    browser = make_browser(renew_interval=10 * MIN)
    browser.request(login("gina"))
    first = browser.cookie
    clock.advance(10 * MIN - EPS)
    browser.request(read())
    assert browser.cookie == first


def test_renew_interval_rotates_the_id_and_kills_the_old_one(
    make_browser: Callable[..., Browser], clock: FakeClock
) -> None:
    """At renew_interval the ID changes transparently; data, user and handle stay; old ID dies."""
    browser = make_browser(renew_interval=10 * MIN)
    browser.request(login("hank"))
    browser.request(write(cart=[1]))
    first = browser.cookie
    handle = browser.request(read()).session.handle  # type: ignore[union-attr]
    clock.advance(10 * MIN)
    response = browser.request(read())
    assert "renewed" in response.kinds
    assert [type(op) for op in response.ops] == [Create]
    assert isinstance(response.ops[0], Create) and response.ops[0].replaces is not None
    assert response.ops[0].carry  # the store carries the stored data over (#18)
    assert browser.cookie not in (None, first)
    session = browser.request(read()).session
    assert session == {"cart": [1]} and session.user_id == "hank" and session.handle == handle
    old = browser.request(read(), cookie=f"__Host-session={first}").session
    assert old is not None and old.is_new
    clock.advance(5 * MIN)
    second = browser.cookie
    browser.request(read())
    assert browser.cookie == second  # the interval restarts at each rotation


def test_renewal_keeps_remember_me_persistent(
    make_browser: Callable[..., Browser], clock: FakeClock
) -> None:
    """A rotated remember-me cookie stays persistent, with the remaining absolute lifetime."""
    browser = make_browser(renew_interval=DAY)
    browser.request(login("ivy", remember=True))
    clock.advance(DAY)
    cookie = browser.request(read()).set_cookie
    assert max_age(cookie) == 89 * DAY


def test_renewal_cannot_outlive_the_absolute_limit(
    make_browser: Callable[..., Browser], clock: FakeClock
) -> None:
    """Rotation carries the original absolute deadline to the new ID."""
    browser = make_browser(renew_interval=HOUR)
    browser.request(write(n=1))
    first = browser.cookie
    for _ in range(35):  # every 20 minutes up to 11 h 40 min, rotating every hour
        clock.advance(20 * MIN)
        assert alive(browser)
    assert browser.cookie != first
    clock.advance(20 * MIN)
    assert not alive(browser)
