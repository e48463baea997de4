"""What ``Engine.begin`` reports about a request before any load (FX-01, FX-05, RS-03, ID-07).

Operators alert on these events and the guard counts some of them, so their
kind, client and detail are part of the contract, not decoration: a
``url_id`` names the path without the parameter that held the ID, an
``oversized`` header its size, a tossed cookie how many copies came, a bad
or foreign cookie its length (never its value).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionware import Event
from sessionware.cookies import MAX_HEADER
from sessionware.ids import new_id

from .conftest import Browser, read, write

#: The client the conftest's Browser sends every request from.
CLIENT = "203.0.113.5"
#: A value that could be a session ID (22+ URL-safe characters).
V = "kR3v9xQe0YwT2bN7mLp4sHz8"
NAME = "__Host-session"


def _only(events: list[Event], kind: str) -> Event:
    matching = [e for e in events if e.kind == kind]
    assert len(matching) == 1, [e.kind for e in events]
    return matching[0]


# -- URL-carried IDs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query"),
    [
        pytest.param("/a;sid=" + V + ";x=1", "", id="first-of-two-path-params"),
        pytest.param("/", f"sid={V}==", id="padded-value"),
        pytest.param("/", f"sid=+{V}", id="value-with-leading-space"),
        pytest.param("/", "sid=%6B" + V[1:], id="percent-encoded-value"),
        pytest.param("/", f"sid+={V}", id="name-with-trailing-space"),
        pytest.param("/", f"+sid={V}", id="name-with-leading-space"),
        pytest.param("/", f"a=1&b=2&sid={V}&c=3", id="middle-of-query"),
        pytest.param(
            "/",
            f"jsessionid={V}&phpsessid=1&session_id=2&__host-session=3",
            id="every-id-name-at-once",
        ),
    ],
)
def test_url_ids_in_less_common_spellings_are_rejected(
    browser: Browser, path: str, query: str
) -> None:
    """Padding, encoding, spaces and position do not smuggle an ID past the screen (FX-01)."""
    response = browser.request(write(n=1), path=path, query=query)
    assert response.status == 400 and response.kinds == ["url_id"]
    assert response.ops == ()


@pytest.mark.parametrize(
    ("path", "query", "shown"),
    [
        pytest.param(f"/cart;jsessionid={V}", "", "/cart", id="path-param"),
        pytest.param(f"/a/b;x=1;sid={V};y=2", "", "/a/b", id="several-path-params"),
        pytest.param("/shop/list", f"sid={V}", "/shop/list", id="query"),
    ],
)
def test_url_id_event_names_the_client_and_the_path_without_its_parameters(
    make_browser: Callable[..., Browser], path: str, query: str, shown: str
) -> None:
    """The event keeps the path for triage but never the ``;`` parameters that held the ID."""
    for policy in ("reject", "ignore"):
        browser = make_browser(url_id_policy=policy)
        response = browser.request(read(), path=path, query=query)
        event = _only(response.events, "url_id")
        assert event.client == CLIENT
        assert event.detail == {"path": shown}
        assert V not in repr(event.as_dict())


def test_an_ignored_url_id_is_reported_alongside_every_cookie_outcome(
    make_browser: Callable[..., Browser],
) -> None:
    """Under ``"ignore"`` the url_id event survives whatever the Cookie header turns out to be."""
    browser = make_browser(url_id_policy="ignore")
    browser.request(write(n=1))
    valid = browser.cookie
    assert valid is not None
    headers = {
        "none": None,
        "no-session-cookie": "theme=dark",
        "name-only-as-substring": f"x{NAME}=1",
        "oversized": f"{NAME}={valid}; pad={'x' * MAX_HEADER}",
        "tossed": f"{NAME}={valid}; {NAME}={valid}",
        "forged": f"{NAME}={'A' * 43}.{'B' * 43}",
        "foreign": f"{NAME}=legacy",
    }
    expected = {
        "oversized": "oversized",
        "tossed": "cookie_tossing",
        "forged": "bad_signature",
        "foreign": "foreign_cookie",
    }
    for label, header in headers.items():
        browser.cookie = None
        response = browser.request(read(), query=f"sid={V}", cookie=header)
        assert response.status == 200, label
        want = ["url_id"] + ([expected[label]] if label in expected else [])
        assert response.kinds == want, label
        assert response.session is not None and response.session.is_new, label
    # A valid cookie still loads its session; the URL's value is reported, never used.
    response = browser.request(read(), query=f"sid={V}", cookie=f"{NAME}={valid}")
    assert response.kinds == ["url_id"]
    assert response.session == {"n": 1}


# -- the Cookie header ------------------------------------------------------------------------


def test_a_header_of_exactly_the_limit_is_read(browser: Browser) -> None:
    """16 KiB is allowed; one byte more is ``oversized`` with the size in its detail (RS-03)."""
    browser.request(write(n=1))
    cookie = f"{NAME}={browser.cookie}; pad="
    at_limit = cookie + "x" * (MAX_HEADER - len(cookie))
    assert len(at_limit) == MAX_HEADER
    response = browser.request(read(), cookie=at_limit)
    assert response.session == {"n": 1} and response.events == []
    over = at_limit + "x"
    response = browser.request(read(), cookie=over)
    event = _only(response.events, "oversized")
    assert event.client == CLIENT and event.detail == {"cookie_bytes": MAX_HEADER + 1}
    assert response.kinds == ["oversized"]
    assert response.session is not None and response.session.is_new


def test_an_oversized_header_has_our_cookie_dropped(browser: Browser) -> None:
    """The client presented something, so the response expires the cookie it cannot read."""
    browser.request(write(n=1))
    response = browser.request(read(), cookie=f"{NAME}={browser.cookie}; pad={'x' * MAX_HEADER}")
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie
    assert response.all("vary") == ["Cookie"]


def test_a_header_without_our_name_never_mentions_a_session(browser: Browser) -> None:
    """Other cookies, or our name only inside another name: no event, no Set-Cookie."""
    for header in ("theme=dark", f"x{NAME}=1", f"{NAME}x=1", f"{NAME}", f"pad={NAME}"):
        response = browser.request(read(), cookie=header)
        assert response.events == [], header
        assert response.set_cookie is None, header
        assert response.session is not None and response.session.is_new


@pytest.mark.parametrize("copies", [2, 3])
def test_tossed_cookies_report_how_many_came(browser: Browser, copies: int) -> None:
    """cookie_tossing carries the number of same-name cookies (FX-05)."""
    browser.request(write(n=1))
    header = "; ".join([f"{NAME}={browser.cookie}"] * copies)
    response = browser.request(read(), cookie=header)
    event = _only(response.events, "cookie_tossing")
    assert response.kinds == ["cookie_tossing"]
    assert event.client == CLIENT and event.detail == {"count": copies}
    assert response.session is not None and response.session.is_new


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        pytest.param("A" * 43 + "." + "B" * 43, "bad_signature", id="our-shape"),
        pytest.param("s%3Alegacy.value", "foreign_cookie", id="foreign"),
        pytest.param("", "foreign_cookie", id="empty"),
    ],
)
def test_unverified_cookies_report_their_length_not_their_value(
    browser: Browser, value: str, kind: str
) -> None:
    """A forged cookie of our shape is bad_signature, anything else foreign_cookie (ID-07)."""
    response = browser.request(read(), cookie=f"{NAME}={value}")
    assert response.kinds == [kind]
    event = response.events[0]
    assert event.client == CLIENT and event.detail == {"length": len(value)}
    assert response.set_cookie is not None and "Max-Age=0" in response.set_cookie


def test_a_cookie_signed_with_a_retired_key_still_loads(
    make_browser: Callable[..., Browser],
) -> None:
    """After a key rotation, a cookie signed with the old key finds its record (ID-06)."""
    old = make_browser(secret_keys=["o" * 32])
    old.request(write(n=1))
    rotated = make_browser(secret_keys=["n" * 32, "o" * 32])
    response = rotated.request(read(), cookie=f"{NAME}={old.cookie}")
    assert response.session == {"n": 1} and response.events == []


def test_an_unknown_id_event_names_the_client(browser: Browser) -> None:
    """A well-signed ID with no record: unknown_id from the request's client."""
    response = browser.request(read(), cookie=f"{NAME}={browser.engine.ids.sign(new_id())}")
    assert response.kinds == ["unknown_id"] and response.events[0].client == CLIENT


def test_a_replayed_logout_cookie_names_the_client(browser: Browser) -> None:
    """On a store without tombstones the engine's own memory reports the replay, with the client."""
    browser.request(lambda s: s.login("lee"))
    old = browser.cookie
    browser.request(lambda s: s.logout())
    response = browser.request(read(), cookie=f"{NAME}={old}")
    assert response.kinds == ["ended", "logout_replay"]
    assert [e.client for e in response.events] == [CLIENT, CLIENT]
    assert response.session is not None and response.session.end_reason == "logout"
