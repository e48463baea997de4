"""Why did my session end? Each reason end to end, on every backend (#17).

A Starlette app behind the real middleware, driven by httpx over ASGI on one
event loop per test (an https base URL, so the ``__Host-`` cookie is kept), a
fake clock that starts at the real time (so Redis TTLs agree), and every
event collected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessionware import SessionManager, SessionMiddleware
from sessionware.events import Event
from sessionware.testing import FakeClock

from ..conftest import SECRET
from .every_store import KINDS, Dumpable, every_store

COOKIE = "__Host-session"
UA = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Dumpable]:
    def redis_url() -> str:
        return str(request.getfixturevalue("redis_url"))

    def cluster() -> str:
        return str(request.getfixturevalue("redis_cluster"))

    yield from every_store(request.param, tmp_path, redis_url, cluster)


async def login(request: Request) -> JSONResponse:
    request.session.login(request.query_params["user"])
    request.session["cart"] = [1]
    return JSONResponse({"ok": True})


async def me(request: Request) -> JSONResponse:
    s = request.session
    return JSONResponse(
        {
            "user": s.user_id,
            "data": dict(s),
            "end_reason": s.end_reason,
            "ended_at": s.ended_at,
            "ended_by": s.ended_by,
        }
    )


async def put(request: Request) -> JSONResponse:
    request.session[request.query_params["k"]] = request.query_params["v"]
    return JSONResponse({"ok": True})


async def logout(request: Request) -> JSONResponse:
    request.session.logout()
    return JSONResponse({"ok": True})


async def regenerate(request: Request) -> JSONResponse:
    request.session.regenerate()
    return JSONResponse({"ok": True})


class Browser:
    """One client with its own cookie jar, on the site's event loop."""

    def __init__(self, site: Site, headers: dict[str, str]) -> None:
        self.loop = site.loop
        transport = httpx.ASGITransport(app=site.app)
        self.http = httpx.AsyncClient(
            transport=transport, base_url="https://testserver", headers=headers
        )
        site.browsers.append(self)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies

    def get(self, url: str) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url))

    def post(self, url: str) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url))


class Site:
    def __init__(self, backend: Any, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.browsers: list[Browser] = []
        self.backend = backend
        self.clock = FakeClock()
        self.events: list[Event] = []
        routes = [
            Route("/login", login, methods=["POST"]),
            Route("/me", me),
            Route("/put", put, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/regenerate", regenerate, methods=["POST"]),
        ]
        config.setdefault("guard", None)
        self.app = SessionMiddleware(
            Starlette(routes=routes),
            backend=backend,
            clock=self.clock,
            on_event=self.events.append,
            secret_keys=[SECRET],
            **config,
        )
        self.manager = SessionManager(backend, clock=self.clock)

    def client(self, **headers: str) -> Browser:
        return Browser(self, {**UA, **headers})

    def close(self) -> None:
        for browser in self.browsers:
            self.loop.run_until_complete(browser.http.aclose())
        self.loop.run_until_complete(self.backend.aclose())
        self.loop.close()

    def signed_in(self, user: str = "ann") -> tuple[Browser, str]:
        client = self.client()
        assert client.post(f"/login?user={user}").status_code == 200
        return client, client.cookies[COOKIE]

    def present(self, cookie: str, **headers: str) -> dict[str, Any]:
        """One request with ``cookie`` alone, from a fresh client; clears events first."""
        self.events.clear()
        client = self.client(cookie=f"{COOKIE}={cookie}", **headers)
        body: dict[str, Any] = client.get("/me").json()
        return body

    def ended(self) -> list[Event]:
        return [e for e in self.events if e.kind == "ended"]


@pytest.fixture
def make_site(store: Dumpable) -> Iterator[Any]:
    """Sites on this test's store; their loops and clients are closed at teardown."""
    made: list[Site] = []

    def make(**config: Any) -> Site:
        made.append(Site(store.backend, **config))
        return made[-1]

    yield make
    for site in made:
        site.close()


def check_ended(site: Site, body: dict[str, Any], reason: str, by: str | None = None) -> None:
    assert body["user"] is None and body["data"] == {}
    assert body["end_reason"] == reason
    assert body["ended_by"] == by
    (event,) = site.ended()
    assert event.detail["reason"] == reason
    assert event.user_id == "ann" and event.handle is not None
    assert not [e for e in site.events if e.kind == "unknown_id"]


def test_logout(make_site: Any, store: Dumpable) -> None:
    """A cookie presented after its session logged out reads "logout" (alias logout_replay too)."""
    site = make_site()
    client, cookie = site.signed_in()
    client.post("/logout")
    body = site.present(cookie)
    check_ended(site, body, "logout")
    assert body["ended_at"] == pytest.approx(site.clock.now)
    assert [e.kind for e in site.events] == ["ended", "logout_replay"]


def test_revoked_by_the_user_from_another_device(make_site: Any, store: Dumpable) -> None:
    """revoke_user(by="user"): the other device reads "revoked" by "user"."""
    site = make_site()
    _, cookie = site.signed_in()
    assert site.manager.revoke_user("ann", by="user") == 1
    check_ended(site, site.present(cookie), "revoked", "user")


def test_revoked_by_an_admin(make_site: Any, store: Dumpable) -> None:
    """revoke(handle) defaults to by="admin"."""
    site = make_site()
    _, cookie = site.signed_in()
    (info,) = site.manager.list_sessions("ann")
    assert site.manager.revoke(info.handle)
    check_ended(site, site.present(cookie), "revoked", "admin")


def test_evicted_by_max_sessions_per_user(make_site: Any, store: Dumpable) -> None:
    """The oldest session beyond max_sessions_per_user reads "evicted" by "limit"."""
    site = make_site(max_sessions_per_user=1)
    _, first = site.signed_in()
    site.clock.advance(1)
    site.signed_in()
    check_ended(site, site.present(first), "evicted", "limit")


def test_binding_revoke(make_site: Any, store: Dumpable) -> None:
    """Under binding="revoke", the cookie used from another client reads "binding" afterwards."""
    site = make_site(binding="revoke")
    _, cookie = site.signed_in()
    thief = site.present(cookie, **{"user-agent": "curl/8.0"})
    assert thief["user"] is None and thief["end_reason"] == "binding"
    check_ended(site, site.present(cookie), "binding")


def test_idle_expiry(make_site: Any, store: Dumpable) -> None:
    """Past the idle limit the cookie reads "idle" (alias expired too)."""
    site = make_site(idle_timeout=600, absolute_timeout=3600)
    _, cookie = site.signed_in()
    site.clock.advance(601)
    body = site.present(cookie)
    check_ended(site, body, "idle")
    assert [e.kind for e in site.events] == ["ended", "expired"]


def test_absolute_expiry(make_site: Any, store: Dumpable) -> None:
    """Past the absolute limit the cookie reads "absolute", ended at that deadline."""
    site = make_site(idle_timeout=600, absolute_timeout=1200, touch_interval=60)
    client, cookie = site.signed_in()
    start = site.clock.now
    for _ in range(3):  # stay active so only the absolute limit can end it
        site.clock.advance(500)
        client.get("/me")
    site.clock.advance(1)
    body = site.present(cookie)
    check_ended(site, body, "absolute")
    assert body["ended_at"] == pytest.approx(start + 1200)


def test_rotated_by_regenerate_dies_at_once(make_site: Any, store: Dumpable) -> None:
    """The old ID of regenerate() is dead at once, even within rotation_grace: "rotated"."""
    site = make_site(rotation_grace=30)
    client, cookie = site.signed_in()
    client.post("/regenerate")
    assert client.cookies[COOKIE] != cookie
    body = site.present(cookie)
    check_ended(site, body, "rotated")
    assert not [e for e in site.events if e.kind == "stale_reuse"]


def test_unknown_id_only_without_a_tombstone(make_site: Any, store: Dumpable) -> None:
    """An anonymous session's cookie, once it is gone, is still an unknown ID."""
    site = make_site()
    client = site.client()
    client.post("/put?k=a&v=1")
    cookie = client.cookies[COOKIE]
    client.post("/logout")
    body = site.present(cookie)
    assert body["end_reason"] is None
    assert [e.kind for e in site.events] == ["unknown_id"]


def test_renewal_grace_serves_the_successor(make_site: Any, store: Dumpable) -> None:
    """Within rotation_grace the old ID of a renewal reads and writes its successor."""
    site = make_site(renew_interval=60, rotation_grace=5)
    client, old = site.signed_in()
    site.clock.advance(61)
    client.get("/me")
    new = client.cookies[COOKIE]
    assert new != old
    site.clock.advance(2)
    stale = site.client(cookie=f"{COOKIE}={old}")
    response = stale.post("/put?k=late&v=1")
    assert response.status_code == 200 and "set-cookie" not in response.headers
    body = site.present(old)
    assert body["user"] == "ann" and body["end_reason"] is None
    assert site.present(new)["data"] == {"cart": [1], "late": "1"}
    assert not [e for e in site.events if e.kind in ("stale_reuse", "unknown_id", "ended")]


@pytest.mark.parametrize("policy", ["log", "revoke"])
def test_stale_reuse_after_the_window(make_site: Any, store: Dumpable, policy: str) -> None:
    """After the window the old ID raises stale_reuse; under "revoke" the successor ends too."""
    site = make_site(renew_interval=60, rotation_grace=5, on_stale_reuse=policy)
    client, old = site.signed_in()
    site.clock.advance(61)
    client.get("/me")
    new = client.cookies[COOKIE]
    site.clock.advance(10)
    body = site.present(old)
    assert body["end_reason"] == "rotated" and body["user"] is None
    (event,) = [e for e in site.events if e.kind == "stale_reuse"]
    assert event.user_id == "ann" and event.detail["successor_user"] == "ann"
    assert event.handle == event.detail["successor"]
    after = site.present(new)
    if policy == "log":
        assert after["user"] == "ann"
    else:
        assert after["user"] is None
        assert after["end_reason"] == "revoked" and after["ended_by"] == "stale_reuse"


def test_tombstones_are_not_sessions_and_expire(make_site: Any, store: Dumpable) -> None:
    """Ended sessions are not listed, and their tombstones go at tombstone_timeout."""
    site = make_site(tombstone_timeout=600, idle_timeout=300, absolute_timeout=900)
    clients = [site.signed_in() for _ in range(3)]
    clients[0][0].post("/logout")
    site.manager.revoke_user("ann", keep=site.manager.list_sessions("ann")[-1].handle, by="user")
    assert len(site.manager.list_sessions("ann")) == 1
    if hasattr(store.backend, "__len__"):
        assert len(store.backend) == 1
    site.clock.advance(601)
    assert site.present(clients[0][1])["end_reason"] is None
    assert [e.kind for e in site.events] == ["unknown_id"]


def test_no_raw_id_in_any_stored_value(make_site: Any, store: Dumpable) -> None:
    """After logins, rotations, logouts and revocations, no cookie value or raw ID is stored."""
    site = make_site(renew_interval=60, max_sessions_per_user=2)
    cookies: list[str] = []
    for _ in range(3):
        client, cookie = site.signed_in()
        cookies.append(cookie)
        client.post("/regenerate")
        cookies.append(client.cookies[COOKIE])
        site.clock.advance(61)
        client.get("/me")
        cookies.append(client.cookies[COOKIE])
    client.post("/logout")
    site.manager.revoke_user("ann")
    stored = "\n".join(store.dump())
    assert stored
    for cookie in cookies:
        raw = cookie.split(".")[0]
        assert len(raw) >= 40
        assert raw not in stored and cookie not in stored


def test_the_guard_never_blocks_a_returning_users_dead_cookies(
    make_site: Any, store: Dumpable
) -> None:
    """With a tiny bad_limit, a dozen presentations of ended cookies are never answered 429."""
    from sessionware import GuardConfig

    site = make_site(guard=GuardConfig(bad_limit=2, bad_window=60))
    cookies = []
    for _ in range(4):
        client, cookie = site.signed_in()
        client.post("/logout")
        cookies.append(cookie)
    site.events.clear()
    for cookie in cookies * 3:
        browser = site.client(cookie=f"{COOKIE}={cookie}")
        assert browser.get("/me").status_code == 200
    assert not [e for e in site.events if e.kind == "brute_force"]
