"""The demo app, driven over HTTP without a browser (the browser suite is in tests/browser)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from sessionware import MemoryBackend
from sessionware.cli.demo import create_app
from sessionware.testing import FakeClock

SECRET = "demo-test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock):
    return create_app(MemoryBackend(), secret_keys=[SECRET], clock=clock)


def browser(app) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=True)


def sign_in(client: TestClient, user: str = "alice", password: str = "wonderland", **extra):
    return client.post("/login", data={"username": user, "password": password, **extra})


def handles(html: str) -> list[str]:
    return re.findall(r'data-handle="([^"]+)"', html)


def test_anonymous_home_sets_no_cookie_and_shows_demo_users(app) -> None:
    """The sign-in page costs no session and lists the demo accounts with passwords."""
    response = browser(app).get("/")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "wonderland" in response.text and "builder" in response.text


def test_wrong_password_is_refused(app) -> None:
    """A bad password re-renders the form with 401 and no session."""
    response = sign_in(browser(app), password="nope")
    assert response.status_code == 401
    assert "wrong password" in response.text
    assert "set-cookie" not in response.headers


def test_sign_in_counter_and_sign_out(app) -> None:
    """Signing in shows the user and a logout button; the counter persists; sign-out ends it."""
    client = browser(app)
    page = sign_in(client)
    assert "Alice Liddell" in page.text and 'data-testid="logout"' in page.text
    assert 'data-testid="count">1<' in client.post("/count").text
    assert 'data-testid="count">2<' in client.post("/count").text
    page = client.post("/logout")
    assert "Not signed in" in page.text
    assert len(app.backend) == 0


def test_logout_is_visible_on_every_signed_in_page(app) -> None:
    """Every page offers Sign out (ASVS v5.0.0-7.4.4)."""
    client = browser(app)
    sign_in(client)
    for path in ("/", "/sessions", "/sensitive"):
        assert 'data-testid="logout"' in client.get(path).text, path


def test_sessions_page_lists_devices_and_marks_this_one(app) -> None:
    """Two sign-ins show as two rows; exactly one is "This device"."""
    laptop, phone = browser(app), browser(app)
    sign_in(laptop)
    phone.headers["user-agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/605.1"
    sign_in(phone)
    page = laptop.get("/sessions").text
    assert len(handles(page)) == 2
    assert page.count('data-testid="this-device"') == 1
    assert "Safari on iOS" in page


def test_revoking_a_device_signs_it_out(app) -> None:
    """Signing out another device from "Your sessions" makes its next request anonymous."""
    laptop, phone = browser(app), browser(app)
    sign_in(laptop)
    sign_in(phone)
    phone_handle = re.search(r'data-testid="handle">([^<]+)<', phone.get("/").text)[1]
    laptop.post("/sessions/revoke", data={"handle": phone_handle})
    assert "Not signed in" in phone.get("/").text
    assert "Alice" in laptop.get("/").text
    assert "revoked" in laptop.get("/").text


def test_sign_out_everywhere_else_keeps_this_device(app) -> None:
    """ "Sign out everywhere else" ends every other session of the user only."""
    me, other, bob = browser(app), browser(app), browser(app)
    sign_in(me)
    sign_in(other)
    sign_in(bob, "bob", "builder")
    page = me.post("/sessions/revoke-others")
    assert "Signed out 1 other session." in page.text
    assert len(handles(page.text)) == 1
    assert "Not signed in" in other.get("/").text
    assert "Bob" in bob.get("/").text


def test_cannot_revoke_another_users_session(app) -> None:
    """A handle that belongs to someone else is ignored."""
    alice, bob = browser(app), browser(app)
    sign_in(alice)
    sign_in(bob, "bob", "builder")
    bob_handle = re.search(r'data-testid="handle">([^<]+)<', bob.get("/").text)[1]
    alice.post("/sessions/revoke", data={"handle": bob_handle})
    assert "Bob" in bob.get("/").text


def test_sensitive_action_needs_recent_auth(app, clock: FakeClock) -> None:
    """Within 5 minutes the codes show; later a password prompt comes first (TM-07)."""
    client = browser(app)
    sign_in(client)
    assert 'data-testid="codes"' in client.post("/sensitive").text
    clock.advance(301)
    prompt = client.post("/sensitive")
    assert prompt.status_code == 401 and 'data-testid="reauth-form"' in prompt.text
    wrong = client.post("/reauth", data={"password": "nope", "next": "/sensitive"})
    assert wrong.status_code == 401
    page = client.post("/reauth", data={"password": "wonderland", "next": "/sensitive"})
    assert "Password confirmed." in page.text
    assert 'data-testid="codes"' in client.post("/sensitive").text


def test_reauth_issues_a_new_session_id(app, clock: FakeClock) -> None:
    """Confirming the password rotates the session ID (ASVS v5.0.0-7.2.4)."""
    client = browser(app)
    sign_in(client)
    before = client.cookies.get("__Host-session")
    clock.advance(301)
    client.post("/reauth", data={"password": "wonderland", "next": "https://evil.example"})
    assert client.cookies.get("__Host-session") != before


def test_stale_sign_in_cannot_revoke_sessions(app, clock: FakeClock) -> None:
    """Managing sessions is a step-up action too (ASVS v5.0.0-7.5.2)."""
    client = browser(app)
    sign_in(client)
    clock.advance(301)
    page = client.post("/sessions/revoke-others")
    assert 'data-testid="reauth-form"' in page.text


def test_cross_site_posts_are_refused(app) -> None:
    """A form posted from another origin is refused before it runs (CS-01)."""
    client = browser(app)
    response = client.post(
        "/login",
        data={"username": "alice", "password": "wonderland"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    fetch = client.post("/count", headers={"sec-fetch-site": "cross-site"})
    assert fetch.status_code == 403
    same = client.post("/count", headers={"origin": "https://testserver"})
    assert same.status_code == 200


def test_url_session_ids_are_refused_and_reported(app) -> None:
    """``?sessionid=`` is a 400 and shows up in the events panel."""
    client = browser(app)
    assert client.get("/?sessionid=kR3v9xQe0YwT2bN7mLp4sHz8").status_code == 400
    assert ">url_id<" in client.get("/").text


def test_remember_me_sets_a_persistent_cookie(app) -> None:
    """The remember-me box turns the cookie persistent (Max-Age), a normal sign-in does not."""
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    normal = sign_in(client)
    assert "max-age" not in normal.headers["set-cookie"].lower()
    other = TestClient(app, base_url="https://testserver", follow_redirects=False)
    remembered = sign_in(other, remember="on")
    assert "max-age=" in remembered.headers["set-cookie"].lower()


def test_dev_http_mode_uses_a_plain_cookie() -> None:
    """``dev_http=True`` names the cookie ``session`` and drops Secure."""
    client = TestClient(create_app(secret_keys=[SECRET], dev_http=True), follow_redirects=False)
    response = sign_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=") and "secure" not in cookie.lower()
