"""The Starlette profile against Starlette itself: one app, two middlewares, same answers.

Each test is parametrized over Starlette's ``SessionMiddleware`` and ours
built from the same Starlette keywords, so any behaviour difference shows
up as a failing pair.  Time is one fake clock for both: Starlette's signer
reads it through ``TimestampSigner.get_timestamp``, ours through ``clock=``.
The few deliberate differences are pinned at the end and listed in
docs/migrating.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionware import ConfigError, SessionMiddleware
from sessionware.testing import FakeClock

from .conftest import SECRET, attributes, cookie_named

Make = Callable[..., TestClient]


async def view(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def update(request: Request) -> JSONResponse:
    request.session.update(await request.json())
    return JSONResponse(dict(request.session))


async def clear(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({})


ROUTES = [
    Route("/", view),
    Route("/set", update, methods=["POST"]),
    Route("/clear", clear, methods=["POST"]),
]


@pytest.fixture(params=["starlette", "sessionware"])
def make(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Make:
    """Builds a TestClient over either middleware from Starlette's own arguments."""
    clock = FakeClock()
    ours = request.param == "sessionware"
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(clock()))

    def build(*args: Any, base_url: str = "http://testserver", **kwargs: Any) -> TestClient:
        middleware: Any = SessionMiddleware if ours else StarletteSessionMiddleware
        if ours:
            kwargs["clock"] = clock
        app = Starlette(routes=ROUTES, middleware=[Middleware(middleware, *args, **kwargs)])
        client = TestClient(app, base_url=base_url)
        client.clock = clock  # type: ignore[attr-defined]
        return client

    return build


def advance(client: TestClient, seconds: float) -> None:
    client.clock.advance(seconds)  # type: ignore[attr-defined]


def test_plain_http_test_client_keeps_the_session(make: Make) -> None:
    """Over ``http://testserver`` (TestClient's default) the session round-trips."""
    client = make(secret_key=SECRET)
    client.post("/set", json={"user": "ada"})
    assert client.get("/").json() == {"user": "ada"}


def test_positional_secret(make: Make) -> None:
    """``Middleware(SessionMiddleware, SECRET)``: the secret may be positional."""
    client = make(SECRET)
    client.post("/set", json={"n": 1})
    assert client.get("/").json() == {"n": 1}


def test_default_cookie_name_and_lifetime(make: Make) -> None:
    """The cookie is ``session`` with Max-Age of 14 days, HttpOnly, Lax, Path=/."""
    header = cookie_named(make(secret_key=SECRET).post("/set", json={"a": 1}), "session")
    assert header is not None
    attrs = attributes(header)
    assert attrs["max-age"] == str(14 * 86400)
    assert "httponly" in attrs and attrs["samesite"].lower() == "lax" and attrs["path"] == "/"
    assert "secure" not in attrs


@pytest.mark.parametrize("max_age", [None])
def test_no_max_age_is_a_browser_session_cookie(make: Make, max_age: int | None) -> None:
    """``max_age=None``: no Max-Age, the cookie ends with the browser."""
    header = cookie_named(
        make(secret_key=SECRET, max_age=max_age).post("/set", json={"a": 1}), "session"
    )
    assert header is not None and "max-age" not in attributes(header)


@pytest.mark.parametrize("max_age", [0, -1])
def test_zero_or_negative_max_age_keeps_nothing(make: Make, max_age: int) -> None:
    """``max_age`` of 0 or less keeps nothing: the next request has no session."""
    client = make(secret_key=SECRET, max_age=max_age)
    header = cookie_named(client.post("/set", json={"a": 1}), "session")
    assert header is not None and int(attributes(header)["max-age"]) <= 0
    advance(client, 2)
    assert client.get("/").json() == {}


def test_custom_cookie_name_path_domain(make: Make) -> None:
    """``session_cookie``, ``path`` and ``domain`` reach the cookie as given."""
    client = make(secret_key=SECRET, session_cookie="sid", path="/", domain="testserver.local")
    header = cookie_named(client.post("/set", json={"a": 1}), "sid")
    assert header is not None
    assert attributes(header)["domain"].lstrip(".") == "testserver.local"


@pytest.mark.parametrize("same_site", ["lax", "Lax", "strict", "STRICT"])
def test_same_site_any_case(make: Make, same_site: str) -> None:
    """``same_site`` is accepted in any case and sent."""
    header = cookie_named(
        make(secret_key=SECRET, same_site=same_site).post("/set", json={"a": 1}), "session"
    )
    assert header is not None and attributes(header)["samesite"].lower() == same_site.lower()


def test_https_only_is_secure(make: Make) -> None:
    """``https_only=True`` sends Secure, and the session works over HTTPS."""
    client = make(secret_key=SECRET, https_only=True, base_url="https://testserver")
    header = cookie_named(client.post("/set", json={"a": 1}), "session")
    assert header is not None and "secure" in attributes(header)
    assert client.get("/").json() == {"a": 1}


def test_partitioned(make: Make) -> None:
    """``partitioned=True`` (with ``https_only``) sends the CHIPS attribute."""
    client = make(
        secret_key=SECRET, https_only=True, partitioned=True, base_url="https://testserver"
    )
    header = cookie_named(client.post("/set", json={"a": 1}), "session")
    assert header is not None and "partitioned" in attributes(header)


def test_active_user_stays_signed_in_for_weeks(make: Make) -> None:
    """A user active every 10 hours keeps the session for 20 days (no idle or absolute cut)."""
    client = make(secret_key=SECRET)
    client.post("/set", json={"user": "ada"})
    for visit in range(48):
        advance(client, 10 * 3600)
        assert client.get("/").json()["user"] == "ada", f"signed out after {visit * 10 + 10} h"
        client.post("/set", json={"visits": visit})


def test_session_ends_after_max_age_of_inactivity(make: Make) -> None:
    """Nothing for longer than ``max_age``: the session is gone."""
    client = make(secret_key=SECRET, max_age=3600)
    client.post("/set", json={"user": "ada"})
    advance(client, 3601)
    assert client.get("/").json() == {}


def test_clear_expires_the_cookie(make: Make) -> None:
    """``clear()`` sends an expired cookie and the next request is anonymous."""
    client = make(secret_key=SECRET)
    client.post("/set", json={"user": "ada"})
    client.post("/clear")
    assert client.get("/").json() == {}


# -- deliberate differences (docs/migrating.md) -------------------------------------------


def _ours(*args: Any, base_url: str = "https://testserver", **kwargs: Any) -> TestClient:
    app = Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware, *args, **kwargs)])
    return TestClient(app, base_url=base_url)


def test_secure_exactly_when_the_request_came_over_https() -> None:
    """Ours adds Secure over HTTPS even with ``https_only=False``; Starlette never does."""
    header = cookie_named(_ours(secret_key=SECRET).post("/set", json={"a": 1}), "session")
    assert header is not None and "secure" in attributes(header)


def test_secure_behind_a_trusted_proxy() -> None:
    """A trusted proxy's ``X-Forwarded-Proto: https`` counts as HTTPS."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SessionMiddleware, SECRET, trusted_proxies=["10.0.0.1"])],
    )
    client = TestClient(app, client=("10.0.0.1", 5000))
    response = client.post("/set", json={"a": 1}, headers={"x-forwarded-proto": "https"})
    header = cookie_named(response, "session")
    assert header is not None and "secure" in attributes(header)
    plain = cookie_named(client.post("/set", json={"a": 2}), "session")
    assert plain is not None and "secure" not in attributes(plain)


def test_max_age_is_renewed_at_most_once_per_touch_interval() -> None:
    """Reads within ``touch_interval`` set no cookie; after it, Max-Age is renewed."""
    clock = FakeClock()
    client = _ours(secret_key=SECRET, max_age=3600, clock=clock)
    client.post("/set", json={"a": 1})
    clock.advance(30)
    assert "set-cookie" not in client.get("/").headers
    clock.advance(31)
    header = cookie_named(client.get("/"), "session")
    assert header is not None and attributes(header)["max-age"] == "3600"


def test_relaxed_defaults_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Building the profile logs one line naming each relaxed default and its keyword."""
    with caplog.at_level(logging.WARNING, logger="sessionware"):
        SessionMiddleware(Starlette(), SECRET)
    lines = [r.getMessage() for r in caplog.records if "profile relaxes" in r.getMessage()]
    assert len(lines) == 1
    for keyword in ("max_age=1800", "absolute_timeout=43200", "https_only=True"):
        assert keyword in lines[0]


def test_a_mix_of_both_spellings_names_the_clash() -> None:
    """Starlette's ``max_age`` with native ``idle_timeout`` is refused, naming both."""
    with pytest.raises(ConfigError, match=r"max_age.*idle_timeout"):
        SessionMiddleware(Starlette(), secret_key=SECRET, max_age=60, idle_timeout=60)


def test_server_side_hardening_stays() -> None:
    """A forged cookie value is not a session: strict mode holds in the profile."""
    client = _ours(secret_key=SECRET, base_url="http://testserver")
    client.cookies.set("session", "forged-value")
    assert client.get("/").json() == {}


def test_url_ids_and_duplicate_cookies_stay_refused() -> None:
    """In the profile an ID in the URL is a 400 and two session cookies are trusted as none."""
    client = _ours(secret_key=SECRET, base_url="http://testserver")
    client.post("/set", json={"user": "ada"})
    value = client.cookies["session"]
    assert client.get("/", params={"session": value}).status_code == 400
    client.cookies.clear()
    doubled = client.get("/", headers={"cookie": f"session={value}; session={value}"})
    assert doubled.json() == {}
