"""The demo tells the story (#15 item 9): deadlines, signed out elsewhere, 400 page, layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .test_demo_browser import PHONE_UA, sign_in

pytestmark = pytest.mark.browser

IMAGES = Path(__file__).parents[2] / "docs" / "img"


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """Save a docs image (under docs/img/ with SESSIONWARE_UPDATE_SCREENSHOTS=1)."""
    target = IMAGES / name if os.environ.get("SESSIONWARE_UPDATE_SCREENSHOTS") else tmp_path / name
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5_000


def test_each_session_row_counts_down_its_idle_and_absolute_deadlines(
    browser: Any, demo_url: str, tmp_path: Path
) -> None:
    """Rows show both deadlines, and the countdown moves without reloading the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 640})
    page = context.new_page()
    sign_in(page, demo_url)
    page.goto(f"{demo_url}/sessions")
    idle = page.locator("[data-testid=sessions] tbody tr [data-testid=idle] time").first
    absolute = page.locator("[data-testid=sessions] tbody tr [data-testid=absolute] time").first
    first = idle.inner_text()
    assert first.startswith(("29:", "30:0"))  # the 30-minute idle limit
    assert absolute.inner_text().startswith(("11:", "12:00"))  # the 12-hour absolute limit
    page.wait_for_function(
        "t => document.querySelector('[data-testid=idle] time').textContent !== t", arg=first
    )
    assert page.locator("[data-testid=idle-deadline]").count() == 0  # home-page facts only
    page.goto(f"{demo_url}/")
    assert "ends in" in page.inner_text("[data-testid=idle-deadline]")
    assert "ends in" in page.inner_text("[data-testid=absolute-deadline]")
    screenshot(page, "home.png", tmp_path)
    context.close()


def test_a_device_signed_out_elsewhere_is_told_why(
    browser: Any, demo_url: str, tmp_path: Path
) -> None:
    """The revoked phone's next page explains the sign-out; the panel shows no red alarm for it."""
    laptop = browser.new_context(viewport={"width": 1280, "height": 640})
    phone = browser.new_context(user_agent=PHONE_UA, viewport={"width": 1280, "height": 640})
    laptop_page, phone_page = laptop.new_page(), phone.new_page()
    sign_in(phone_page, demo_url)
    sign_in(laptop_page, demo_url)
    laptop_page.goto(f"{demo_url}/sessions")
    laptop_page.click("tr:not(.current) [data-testid=revoke]")
    laptop_page.wait_for_selector("text=That session is signed out")

    phone_page.click("[data-testid=increment]")  # a POST, then the redirect
    notice = phone_page.locator("[data-testid=ended]")
    assert "signed out" in notice.inner_text()
    assert phone_page.locator("[data-testid=login-form]").count() == 1
    item = phone_page.locator("[data-testid=events] li", has_text="ended").first  # #17
    assert "alert" not in (item.get_attribute("class") or "")
    screenshot(phone_page, "signed-out-elsewhere.png", tmp_path)
    phone_page.goto(f"{demo_url}/")
    assert phone_page.locator("[data-testid=ended]").count() == 0  # said once, not forever
    laptop.close()
    phone.close()


def test_a_url_session_id_gets_a_friendly_400_page_with_a_way_back(
    browser: Any, demo_url: str, tmp_path: Path
) -> None:
    """An ID-like ``/?sessionid=...`` is still 400, as a page that explains and links back home."""
    context = browser.new_context(viewport={"width": 1280, "height": 640})
    page = context.new_page()
    response = page.goto(f"{demo_url}/?sessionid=5fZcXq1h9sP2mRtLw8yKdA")
    assert response is not None and response.status == 400
    assert "session ID" in page.inner_text("[data-testid=error-page] h1")
    screenshot(page, "url-id-refused.png", tmp_path)
    page.click("[data-testid=back-home]")
    page.wait_for_selector("[data-testid=login-form]")
    assert page.url == f"{demo_url}/"
    context.close()


def test_sessions_table_does_not_wrap_at_1280_pixels(
    browser: Any, demo_url: str, tmp_path: Path
) -> None:
    """Headers, deadlines and buttons stay on one line, and the table fits its card."""
    context = browser.new_context(viewport={"width": 1280, "height": 640})
    phone = browser.new_context(user_agent=PHONE_UA)
    sign_in(phone.new_page(), demo_url, remember=True)  # badges make the widest row
    page = context.new_page()
    sign_in(page, demo_url, remember=True)
    page.goto(f"{demo_url}/sessions")
    wrapped = page.evaluate(
        """() => {
          const lines = node => { const r = document.createRange(); r.selectNodeContents(node);
            return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; };
          const out = [];
          const cells = document.querySelectorAll('[data-testid=sessions] th, '
            + '[data-testid=sessions] td:not(:first-child), [data-testid=sessions] .btn, '
            + '[data-testid=sessions] .badge, [data-testid=sessions] .device');
          for (const el of cells) {
            const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            for (let n = walk.nextNode(); n; n = walk.nextNode()) {
              if (n.textContent.trim() && lines(n) > 1) out.push(n.textContent.trim());
            }
          }
          return out;
        }"""
    )
    assert wrapped == []
    fits = page.evaluate(
        "() => { const t = document.querySelector('[data-testid=sessions]');"
        " return t.scrollWidth <= t.parentElement.clientWidth; }"
    )
    assert fits
    screenshot(page, "sessions-1280.png", tmp_path)
    context.close()
    phone.close()


def test_favicon_is_served(browser: Any, demo_url: str) -> None:
    """``/favicon.ico`` and the page's icon link both answer with the demo's icon."""
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{demo_url}/favicon.ico")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    page.goto(f"{demo_url}/")
    href = page.get_attribute("link[rel=icon]", "href")
    icon = page.request.get(f"{demo_url}{href}")
    assert icon.status == 200 and b"<svg" in icon.body()
    context.close()


def test_counter_copy_matches_whether_a_session_exists(browser: Any, demo_url: str) -> None:
    """Anonymous visitors read "no session exists yet"; signed-in users do not."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{demo_url}/")
    assert "no session exists" in page.inner_text("[data-testid=counter-note]")
    sign_in(page, demo_url)
    note = page.inner_text("[data-testid=counter-note]")
    assert "no session exists" not in note and "server-side session" in note
    context.close()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_chromium_keeps_the_secure_cookie_on_local_plain_http(
    browser: Any, demo_url: str, host: str
) -> None:
    """Chromium sends the default Secure ``__Host-`` cookie back over local plain HTTP."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, demo_url.replace("localhost", host))
    page.reload()
    assert page.locator("[data-testid=signed-in-as]").count() == 1
    context.close()
