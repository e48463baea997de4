"""CSRF (CS-01): cross-site unsafe requests on a live session are refused with 403."""

from __future__ import annotations

import pytest

from sessionware import SessionConfig
from sessionware.config import normalize_origin
from sessionware.errors import ConfigError

SELF = "https://example.com"


def logged_in(h) -> str:
    cookie = h.request("/login").cookie()
    assert cookie
    return cookie


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": "https://evil.example"}, id="foreign-origin"),
        pytest.param({"origin": "null"}, id="null-origin"),
        pytest.param({"sec-fetch-site": "cross-site"}, id="fetch-metadata"),
        pytest.param({"origin": "http://example.com"}, id="downgraded-scheme"),
        pytest.param(
            {"origin": "https://sub.example.com", "sec-fetch-site": "same-site"}, id="sibling"
        ),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_cross_site_unsafe_requests_are_refused(make, kind, headers, method) -> None:
    """An unsafe method on a live session from another origin gets 403 and a ``csrf`` event."""
    h = make(kind)
    cookie = logged_in(h)
    before = h.backend.calls["apply"]
    resp = h.request("/form", method=method, cookie=cookie, headers=headers)
    assert resp.status == 403
    assert h.backend.calls["apply"] == before  # the app never ran, nothing was written
    event = h.events[-1]
    assert event.kind == "csrf"
    assert event.detail["method"] == method


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": SELF, "sec-fetch-site": "same-origin"}, id="same-origin"),
        pytest.param({"origin": "https://EXAMPLE.com:443"}, id="same-origin-spelled-out"),
        pytest.param({}, id="no-browser-headers"),
        pytest.param({"sec-fetch-site": "none"}, id="typed-in-url"),
    ],
)
def test_same_origin_posts_are_allowed(make, kind, headers) -> None:
    """A POST from the app's own origin (or from no browser context) goes through."""
    h = make(kind)
    cookie = logged_in(h)
    resp = h.request("/form", method="POST", cookie=cookie, headers=headers)
    assert resp.status == 200
    assert "csrf" not in h.kinds()


def test_cross_site_get_is_allowed(make, kind) -> None:
    """Safe methods are never refused: links from other sites keep working."""
    h = make(kind)
    cookie = logged_in(h)
    headers = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    assert h.request("/", cookie=cookie, headers=headers).json()["user"] == "alice"


def test_no_live_session_means_no_refusal(make, kind) -> None:
    """A cross-site POST without a valid session carries no ambient authority: let it through."""
    h = make(kind)
    headers = {"origin": "https://evil.example"}
    assert h.request("/form", method="POST", headers=headers).status == 200
    assert h.request("/form", method="POST", cookie="forged", headers=headers).status == 200


def test_allowed_origins_are_accepted(make, kind) -> None:
    """Origins in ``allowed_origins`` may post, even when the browser calls them cross-site."""
    h = make(kind, allowed_origins=["https://partner.example:8443"])
    cookie = logged_in(h)
    headers = {"origin": "https://partner.example:8443", "sec-fetch-site": "cross-site"}
    assert h.request("/form", method="POST", cookie=cookie, headers=headers).status == 200


def test_csrf_can_be_switched_off(make, kind) -> None:
    """``csrf=False`` leaves forgery defence to the app."""
    h = make(kind, csrf=False)
    cookie = logged_in(h)
    headers = {"origin": "https://evil.example"}
    assert h.request("/form", method="POST", cookie=cookie, headers=headers).status == 200


def test_own_origin_behind_a_trusted_proxy(make, kind) -> None:
    """Behind a TLS-terminating trusted proxy the own origin is the forwarded scheme and host."""
    h = make(kind, trusted_proxies=["10.0.0.2"])
    cookie = h.request("/login", client="10.0.0.2").cookie()
    forwarded = {
        "x-forwarded-for": "203.0.113.5",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "shop.example",
        "origin": "https://shop.example",
    }
    resp = h.request(
        "/form", method="POST", cookie=cookie, client="10.0.0.2", headers=forwarded, host="app:8000"
    )
    assert resp.status == 200


def test_cross_site_websocket_with_a_session_is_closed(make) -> None:
    """A websocket handshake from a foreign origin on a live session is closed (1008)."""
    h = make("asgi")
    cookie = logged_in(h)
    assert h.websocket(cookie=cookie, origin="https://evil.example") == "websocket.close"
    assert h.websocket(cookie=cookie, origin=SELF) == "websocket.accept"


def test_synchronizer_token_round_trip(make, kind) -> None:
    """``csrf_token()`` is stable per session and verifies; other values and sessions do not."""
    h = make(kind)
    cookie = logged_in(h)
    first = h.request("/token", cookie=cookie)
    token = first.json()["token"]
    assert h.request("/token", cookie=cookie).json()["token"] == token
    ok = h.request("/checked", method="POST", cookie=cookie, headers={"x-csrf-token": token})
    assert ok.json()["valid"] is True
    bad = h.request("/checked", method="POST", cookie=cookie, headers={"x-csrf-token": token[:-1]})
    assert bad.json()["valid"] is False
    assert h.request("/checked", method="POST", cookie=cookie).json()["valid"] is False


def test_login_drops_a_pre_login_token(make, kind) -> None:
    """A token minted before login (possibly known to a fixation attacker) is gone after it."""
    h = make(kind)
    anon = h.request("/token")
    cookie = anon.cookie()
    old = anon.json()["token"]
    cookie = h.request("/login", cookie=cookie).cookie()
    assert h.request("/token", cookie=cookie).json()["token"] != old


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("https://Example.COM:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("https://example.com/path", None),
        ("ftp://example.com", None),
        ("null", None),
        ("https://user@example.com", None),
    ],
)
def test_origins_are_normalized(text, normal) -> None:
    """Origins compare lowercased without default ports; anything with a path is not an origin."""
    assert normalize_origin(text) == normal


def test_bad_allowed_origins_are_config_errors() -> None:
    """A path, a bare host or a single string in ``allowed_origins`` is refused at construction."""
    secret = "x" * 32
    for bad in (["https://a.example/"], ["a.example"], "https://a.example"):
        with pytest.raises(ConfigError):
            SessionConfig(secret_keys=[secret], allowed_origins=bad)


def legacy_starlette_cookie(secret: str) -> str:
    """A session cookie minted by Starlette's own SessionMiddleware (a user mid-migration)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware as StarletteSessions
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def login(request):
        request.session["user"] = "ada"
        return JSONResponse({})

    old = Starlette(
        routes=[Route("/login", login)],
        middleware=[Middleware(StarletteSessions, secret_key=secret)],
    )
    return TestClient(old).get("/login").cookies["session"]


def test_a_legacy_cookie_being_migrated_is_a_live_session(make, kind) -> None:
    """A cross-site POST riding a verified legacy cookie is refused before it is migrated."""
    old_secret = "legacy-secret-legacy-secret-legacy-0000"
    h = make(kind, migrate_from="starlette", legacy_secret=old_secret)
    legacy = {"cookie": f"session={legacy_starlette_cookie(old_secret)}"}
    forged = h.request("/form", method="POST", headers={**legacy, "origin": "https://evil.example"})
    assert forged.status == 403
    assert len(h.backend.inner) == 0  # nothing was migrated
    same_site = h.request("/form", method="POST", headers={**legacy, "origin": SELF})
    assert same_site.status == 200
    assert len(h.backend.inner) > 0
