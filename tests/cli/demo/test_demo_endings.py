"""The demo tells a signed-out user why, and shows ``ended`` as a neutral event (#17)."""

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
def app(clock: FakeClock) -> object:
    return create_app(MemoryBackend(), secret_keys=[SECRET], clock=clock)


def browser(app: object) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=True)  # type: ignore[arg-type]


def sign_in(client: TestClient) -> None:
    client.post("/login", data={"username": "alice", "password": "wonderland"})


def notice(html: str) -> str | None:
    found = re.search(r'data-testid="ended">([^<]+)<', html)
    return None if found is None else found[1]


def ended_items(html: str) -> list[str]:
    return re.findall(r'<li class="([^"]*)">\s*<span class="kind">ended</span>', html)


def test_signed_out_from_another_device(app: object) -> None:
    """The phone signed out by the laptop's "sign out everywhere else" is told so, neutrally."""
    laptop, phone = browser(app), browser(app)
    sign_in(laptop)
    sign_in(phone)
    laptop.post("/sessions/revoke-others")
    page = phone.get("/").text
    assert "Not signed in" in page
    assert notice(page) == "You were signed out from another device."
    assert ended_items(page) == ["neutral"]  # listed as neutral, without the red alert class
    assert "logout_replay" not in page and "unknown_id" not in page
    assert notice(phone.get("/").text) is None  # said once: the dead cookie is gone


def test_expired_after_inactivity(app: object, clock: FakeClock) -> None:
    """An idle expiry reads "Your session expired after 30 minutes of inactivity"."""
    client = browser(app)
    sign_in(client)
    clock.advance(31 * 60)
    page = client.get("/").text
    assert notice(page) == "Your session expired after 30 minutes of inactivity."
    assert ended_items(page) == ["neutral"]
