"""The demo in real Chromium: cookies as the browser stores them, devices, restarts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

#: Set SESSIONWARE_UPDATE_SCREENSHOTS=1 to refresh the README image; otherwise the
#: screenshot goes to a temporary directory so test runs leave the tree clean.
SCREENSHOT = Path(__file__).parents[2] / "docs" / "img" / "sessions.png"
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def sign_in(page: Any, base: str, *, remember: bool = False) -> None:
    page.goto(f"{base}/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wonderland")
    if remember:
        page.check("input[name=remember]")
    page.click("form[data-testid=login-form] button[type=submit]")
    page.wait_for_selector("[data-testid=signed-in-as]")


def session_cookie(context: Any) -> dict[str, Any] | None:
    return next((c for c in context.cookies() if c["name"] == "__Host-session"), None)


def test_sign_in_and_sign_out(browser: Any, demo_url: str) -> None:
    """A user signs in, sees their name and a Sign out button, and signs out again."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, demo_url)
    assert page.inner_text("[data-testid=signed-in-as]") == "Alice Liddell"
    page.click("[data-testid=logout]")
    page.wait_for_selector("[data-testid=login-form]")
    assert session_cookie(context) is None
    context.close()


def test_session_cookie_is_httponly_secure_lax_and_host_prefixed(
    browser: Any, demo_url: str
) -> None:
    """Scripts cannot see the cookie; the jar holds a Secure, SameSite=Lax ``__Host-`` cookie."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, demo_url)
    assert "__Host-session" not in page.evaluate("document.cookie")
    cookie = session_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["secure"] is True
    assert cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["domain"] == "localhost"  # host-only: no Domain attribute
    assert cookie["expires"] == -1  # a browser-session cookie without remember-me
    context.close()


def test_revoking_one_device_from_another(browser: Any, demo_url: str, tmp_path: Path) -> None:
    """Two contexts are two devices; signing one out from the other ends it on its next click."""
    laptop = browser.new_context(viewport={"width": 1280, "height": 540})
    phone = browser.new_context(user_agent=PHONE_UA)
    laptop_page, phone_page = laptop.new_page(), phone.new_page()
    sign_in(phone_page, demo_url)
    phone_page.click("[data-testid=increment]")
    sign_in(laptop_page, demo_url)
    phone_page.goto(f"{demo_url}/?sessionid=stolen")  # shows up in the events panel

    laptop_page.goto(f"{demo_url}/sessions")
    rows = laptop_page.locator("[data-testid=sessions] tbody tr")
    assert rows.count() == 2
    assert laptop_page.locator("[data-testid=this-device]").count() == 1
    assert "Safari on iOS" in laptop_page.inner_text("[data-testid=sessions]")
    shot = SCREENSHOT if os.environ.get("SESSIONWARE_UPDATE_SCREENSHOTS") else tmp_path / "s.png"
    laptop_page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    laptop_page.click("tr:not(.current) [data-testid=revoke]")
    laptop_page.wait_for_selector("text=That session is signed out")
    assert laptop_page.locator("[data-testid=sessions] tbody tr").count() == 1

    phone_page.goto(f"{demo_url}/")
    phone_page.click("[data-testid=increment]")
    phone_page.wait_for_selector("[data-testid=login-form]")
    assert phone_page.locator("[data-testid=signed-in-as]").count() == 0
    assert laptop_page.locator("[data-testid=signed-in-as]").count() == 1
    laptop.close()
    phone.close()


def relaunch_and_check(playwright: Any, chromium: str, profile: Path, url: str, remember: bool):
    def launch() -> Any:
        return playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, args=CHROMIUM_ARGS
        )

    first = launch()
    page = first.pages[0] if first.pages else first.new_page()
    sign_in(page, url, remember=remember)
    first.close()  # the browser quits: session cookies die, persistent ones are on disk
    second = launch()
    page = second.pages[0] if second.pages else second.new_page()
    page.goto(f"{url}/")
    signed_in = page.locator("[data-testid=signed-in-as]").count() == 1
    second.close()
    return signed_in


def test_remember_me_survives_a_browser_restart(
    playwright: Any, chromium_path: str, demo_url: str, tmp_path: Path
) -> None:
    """With remember-me the user is still signed in after Chromium restarts; without, not."""
    assert relaunch_and_check(playwright, chromium_path, tmp_path / "kept", demo_url, True)
    assert not relaunch_and_check(playwright, chromium_path, tmp_path / "gone", demo_url, False)


def test_session_id_in_the_url_is_refused(browser: Any, demo_url: str) -> None:
    """A URL carrying ``?sessionid=`` with an ID-like value gets 400; ``?sid=3`` passes (#13)."""
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{demo_url}/?sessionid=kR3v9xQe0YwT2bN7mLp4sHz8")
    assert response is not None and response.status == 400
    response = page.goto(f"{demo_url}/sessions?SESSIONID=kR3v9xQe0YwT2bN7mLp4sHz8")
    assert response is not None and response.status == 400
    response = page.goto(f"{demo_url}/?sid=3")
    assert response is not None and response.status == 200
    context.close()
