"""The lockout and proxy defects of #13, reproduced over real HTTP (uvicorn, httpx).

Each test is what an attacker (or an ordinary proxy set-up) did to 0.1 from
outside; the victim is a real client holding a real cookie, on the same
loopback address as the attacker, so "one address" is literally shared.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sessionware import GuardConfig, SessionMiddleware, TokenService
from sessionware.backends import MemoryBackend
from sessionware.events import Event
from sessionware.tokens import refresh_endpoint

from ..conftest import SECRET
from .uvicorn_support import serving

COOKIE = "sid_e2e"


async def login(request: Request) -> Response:
    request.session.login("alice")
    return PlainTextResponse("ok")


async def whoami(request: Request) -> Response:
    return PlainTextResponse(str(request.session.user_id))


async def pixel(request: Request) -> Response:
    return PlainTextResponse("gif")


async def note(request: Request) -> Response:
    request.session["note"] = "kept"
    return PlainTextResponse("noted")


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def site(events: list[Event]) -> Iterator[str]:
    """A small site with sessions, token refresh and the default guard, on uvicorn."""
    backend = MemoryBackend()
    tokens = TokenService(
        backend, keys={"k": secrets.token_bytes(32)}, algorithm="HS256", issuer="i", audience="a"
    )
    app = Starlette(
        routes=[
            Route("/login", login, methods=["GET", "POST"]),
            Route("/whoami", whoami),
            Route("/x.png", pixel),
            Route("/note", note, methods=["POST"]),
            Route("/token/refresh", refresh_endpoint(tokens), methods=["POST"]),
        ]
    )
    app.add_middleware(
        SessionMiddleware,
        secret_keys=[SECRET],
        cookie_name=COOKIE,
        secure=False,
        backend=backend,
        tokens=tokens,
        guard=GuardConfig(bad_limit=20),
        on_event=events.append,
    )
    with serving(app) as url:
        yield url


def forged() -> str:
    return f"{secrets.token_urlsafe(32)}.{secrets.token_urlsafe(32)}"


def test_third_party_pages_cannot_lock_a_signed_in_user_out(site: str) -> None:
    """<img ?sid=N> tags and text/plain forms from any page leave the victim signed in."""
    with httpx.Client(base_url=site) as victim:
        assert victim.get("/login").status_code == 200
        with httpx.Client(base_url=site) as page:  # what the victim's browser is made to send
            for n in range(25):
                assert page.get(f"/x.png?sid=kR3v9xQe0YwT2bN7mLp4sH{n:03d}").status_code == 400
                form = page.post(
                    "/token/refresh",
                    content=f"refresh_token={forged()}",
                    headers={"content-type": "text/plain", "origin": "https://evil.example"},
                )
                assert form.status_code == 415
        mine = victim.get("/whoami")
        assert mine.status_code == 200 and mine.text == "alice"


def test_a_brute_forcer_on_the_same_address_blocks_only_its_forgeries(
    site: str, events: list[Event]
) -> None:
    """Past the limit forged cookies get 429; a signed-in user and a newcomer there do not."""
    with httpx.Client(base_url=site) as victim:
        victim.get("/login")
        statuses = []
        for _ in range(25):
            with httpx.Client(base_url=site, cookies={COOKIE: forged()}) as guesser:
                statuses.append(guesser.get("/whoami").status_code)
        assert statuses[:20] == [200] * 20 and set(statuses[20:]) == {429}
        assert victim.get("/whoami").text == "alice"
        with httpx.Client(base_url=site) as newcomer:
            assert newcomer.get("/login").status_code == 200
            assert newcomer.get("/whoami").text == "alice"
    assert [e.client for e in events if e.kind == "brute_force"] == ["127.0.0.1"]


def test_a_returning_user_with_a_retired_key_cookie_is_not_blocked(site: str) -> None:
    """25 parallel requests with one old-key cookie count once: nothing is refused."""
    old = forged()  # our shape, a signature no current key verifies

    def fetch(_: int) -> int:
        with httpx.Client(base_url=site, cookies={COOKIE: old}) as client:
            return client.get("/x.png").status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        assert set(pool.map(fetch, range(25))) == {200}


def test_behind_an_unlisted_proxy_the_shared_address_is_reported(
    site: str, events: list[Event], caplog: Any
) -> None:
    """Forwarding headers from an untrusted peer: one warning, one event, nobody blocked."""
    headers = {"x-forwarded-for": "203.0.113.9"}
    with (
        caplog.at_level(logging.WARNING, logger="sessionware"),
        httpx.Client(base_url=site, headers=headers) as user,
    ):
        user.get("/login")
        for _ in range(5):
            assert user.get("/whoami").text == "alice"
    warnings = [
        r for r in caplog.records if r.name == "sessionware" and "trusted_proxies" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert [e.kind for e in events].count("untrusted_forwarding") == 1


def test_same_origin_post_behind_a_tls_terminating_proxy_passes(site: str) -> None:
    """Origin https://host on a request that reached the app as http://host is same-origin."""
    with httpx.Client(base_url=site) as browser:
        browser.get("/login")
        host = site.removeprefix("http://")
        ok = browser.post("/note", headers={"origin": f"https://{host}"})
        assert ok.status_code == 200
        evil = browser.post("/note", headers={"origin": "https://evil.example"})
        assert evil.status_code == 403
        downgraded = browser.post("/note", headers={"origin": f"http://{host}.evil"})
        assert downgraded.status_code == 403


def test_cross_site_login_is_refused_over_real_http(site: str) -> None:
    """A cross-site form POST to the login view gets 403 and no session cookie."""
    with httpx.Client(base_url=site) as browser:
        resp = browser.post("/login", headers={"sec-fetch-site": "cross-site"})
        assert resp.status_code == 403 and "set-cookie" not in resp.headers
        assert browser.get("/whoami").text == "None"
