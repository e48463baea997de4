"""Precise defences (#13): one test per numbered defect, over both real adapters.

Each test failed on 0.1.  The lockout, proxy and concurrency cases also run
over real HTTP in ``tests/adapters/test_uvicorn_defences.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from sessionware import SessionConfig, SessionMiddleware, WSGISessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.ids import IdCodec
from sessionware.records import Patch, data_size, encode
from sessionware.session import Session
from sessionware.testing import CountingBackend, FakeClock
from sessionware.tokens import TokenService

from .conftest import SECRET, Harness

ITEM = "x" * 40  # a cart entry; 2,000 of them pass the 64 KiB cap


def act(session: Session, path: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The test app: one path per way a session's data can change."""
    extra: list[tuple[str, str]] = []
    if path == "/untouched":
        return {}, extra
    if path == "/login":
        session.login("alice")
    elif path == "/cart-new":  # the README idiom: create, then append in place
        session["cart"] = []
        session["cart"].extend([ITEM] * 2000)
    elif path == "/cart-small":
        session["cart"] = [ITEM]
    elif path == "/cart-grow-small":  # 4 KB more: fine alone, too much with a concurrent writer
        session["cart"].extend([ITEM] * 100)
    elif path == "/cart-grow":  # in-place growth of a loaded value
        session["cart"].extend([ITEM] * 2000)
    elif path == "/cart-grow-regenerate":
        session["cart"].extend([ITEM] * 2000)
        session.regenerate()
    elif path == "/clear-write":
        session.clear()
        session["flash"] = []
        session["flash"].extend([ITEM] * 2000)
    elif path == "/vary":
        extra.append(("Vary", "Accept-Encoding"))
        session.get("n")
    elif path == "/write":
        session["n"] = int(dict.get(session, "n", 0)) + 1
    return {"user": session.user_id, "n": dict.get(session, "n")}, extra


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    out, extra = act(scope["session"], scope["path"])
    headers = [(b"content-type", b"application/json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in extra]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(out).encode()})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    out, extra = act(environ["sessionware.session"], environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "application/json"), *extra])
    return [json.dumps(out).encode()]


@pytest.fixture
def build() -> Iterator[Any]:
    """``build(kind, backend=None, **config_fields)``: a harness around the app above."""
    loops: list[asyncio.AbstractEventLoop] = []

    def make(kind: str, backend: Any = None, **fields: Any) -> Harness:
        clock = FakeClock()
        counting = CountingBackend(backend if backend is not None else MemoryBackend())
        harness = Harness(kind, None, counting, clock)
        fields.setdefault("secret_keys", [SECRET])
        fields.setdefault("on_event", harness.events.append)
        cls = SessionMiddleware if kind == "asgi" else WSGISessionMiddleware
        app = asgi_app if kind == "asgi" else wsgi_app
        harness.mw = cls(app, backend=counting, clock=clock, **fields)
        if kind == "asgi":
            harness.loop = asyncio.new_event_loop()
            loops.append(harness.loop)
        return harness

    yield make
    for loop in loops:
        loop.close()


def stored_bytes(h: Harness) -> int:
    inner = h.backend.inner
    return max((len(json.dumps(r.data)) for r in inner._records.values()), default=0)


# -- 2. the data cap on every path -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cart-new", "/clear-write"])
def test_values_created_in_the_request_are_capped(build, kind, path) -> None:
    """A list assigned then grown in place (also after clear()) is refused, nothing stored."""
    h = build(kind)
    cookie = h.request("/write").cookie()
    resp = h.request(path, cookie=cookie)
    assert resp.status == 500 and b"too large" in resp.body
    assert stored_bytes(h) < 64 * 1024
    assert h.request("/", cookie=cookie).json()["n"] == 1  # the session lives on unchanged


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        pytest.param("/cart-grow-regenerate", {}, id="regenerate"),
        pytest.param("/cart-grow", {"renew_interval": 60}, id="renew_interval"),
    ],
)
def test_rotation_carries_no_oversized_change(build, kind, path, fields) -> None:
    """An in-place change followed by regenerate() or a due rotation is capped too."""
    h = build(kind, **fields)
    cookie = h.request("/cart-small").cookie()
    h.clock.advance(61)
    resp = h.request(path, cookie=cookie)
    assert resp.status == 500 and resp.cookie() is None
    assert stored_bytes(h) < 64 * 1024
    assert h.request("/login", cookie=cookie).status == 200  # not stuck: login still works


class Racing(MemoryBackend):
    """A memory store where another request's write lands just before this one's."""

    def __init__(self) -> None:
        super().__init__()
        self.interloper: list[Any] = []

    def apply(self, ops: Any, now: float) -> Any:
        if self.interloper:
            super().apply(self.interloper, now)
            self.interloper = []
        return super().apply(ops, now)

    async def aapply(self, ops: Any, now: float) -> Any:
        return self.apply(ops, now)


def test_the_store_refuses_what_concurrent_writers_add_up_to(build, kind) -> None:
    """Two writers each under the cap: the second one's patch is refused by the store, 500."""
    racing = Racing()
    h = build(kind, backend=racing)
    cookie = h.request("/cart-small").cookie()
    key = next(iter(racing._records))
    racing.interloper = [Patch(key, set={"other": encode("y" * 62_000)})]
    resp = h.request("/cart-grow-small", cookie=cookie)
    assert resp.status == 500 and b"too large" in resp.body
    stored = racing._records[key].data
    assert json.loads(stored["cart"]) == [ITEM] and data_size(stored) <= 64 * 1024


# -- 3. login CSRF ----------------------------------------------------------------------------


@pytest.mark.parametrize("prior", [False, True], ids=["no-session", "with-session"])
def test_cross_site_login_is_refused_and_stores_nothing(build, kind, prior) -> None:
    """A cross-site POST whose handler calls login() gets 403, no cookie, no record."""
    h = build(kind)
    cookie = h.request("/write").cookie() if prior else None
    before = len(h.backend.inner)
    resp = h.request(
        "/login", method="POST", cookie=cookie, headers={"origin": "https://evil.example"}
    )
    assert resp.status == 403 and resp.cookie() is None
    assert len(h.backend.inner) == before
    assert "csrf" in h.kinds() and "login" not in h.kinds()


def test_an_identity_provider_listed_in_allowed_origins_may_post_a_login(build, kind) -> None:
    """SAML POST binding / OIDC form_post work once the provider's origin is allowed."""
    h = build(kind, allowed_origins=["https://idp.example", "https://*.corp.example"])
    for origin in ("https://idp.example", "https://sso.eu.corp.example"):
        resp = h.request("/login", method="POST", headers={"origin": origin})
        assert resp.status == 200 and resp.cookie()
    apex = h.request("/login", method="POST", headers={"origin": "https://corp.example"})
    assert apex.status == 403


# -- 4. TLS ended at a proxy ------------------------------------------------------------------


def test_same_origin_post_behind_a_tls_terminating_proxy_passes(build, kind) -> None:
    """``Origin: https://host`` on a request that arrived as ``http://host`` is same-origin."""
    h = build(kind)
    h.scheme = "http"  # the proxy (not in trusted_proxies) ended TLS
    cookie = h.request("/login").cookie()
    ok = h.request(
        "/write", method="POST", cookie=cookie, headers={"origin": "https://example.com"}
    )
    assert ok.status == 200
    for origin in ("https://evil.example", "https://example.com.evil", "http://evil.example"):
        assert (
            h.request("/write", method="POST", cookie=cookie, headers={"origin": origin}).status
            == 403
        )
    h.scheme = "https"
    downgrade = h.request(
        "/write", method="POST", cookie=cookie, headers={"origin": "http://example.com"}
    )
    assert downgrade.status == 403  # an http page may not post to the https site


# -- 5. token logins obey max_sessions_per_user -----------------------------------------------


def test_token_logins_obey_max_sessions_per_user() -> None:
    """320 token logins of one user leave 100 sessions, and nobody else's is touched."""
    backend = MemoryBackend(max_entries=200)
    service = TokenService(
        backend, keys={"k": secrets.token_bytes(32)}, algorithm="HS256", issuer="i", audience="a"
    )
    bystander = service.issue("bob")
    for _ in range(320):
        service.issue("mallory")
    assert len(backend.by_user("mallory", service._clock())) == 100
    assert service.verify(bystander.access_token).user_id == "bob"
    assert len(backend.by_user("bob", service._clock())) == 1


# -- 6. memory eviction protects the signed in ------------------------------------------------


def test_an_anonymous_flood_never_evicts_a_signed_in_user(build, kind) -> None:
    """A full memory store evicts anonymous sessions, then answers anonymous writes 503."""
    h = build(kind, backend=MemoryBackend(max_entries=10))
    users = [h.request("/login", client=f"203.0.113.{i}").cookie() for i in range(10)]
    full = h.request("/write", client="198.51.100.7")
    assert full.status == 503 and full.header("retry-after") == "2"
    assert "store_full" in h.kinds()
    for i, cookie in enumerate(users):
        assert h.request("/", cookie=cookie, client=f"203.0.113.{i}").json()["user"] == "alice"


# -- 7. URL IDs -------------------------------------------------------------------------------


def test_session_parameter_with_a_live_id_is_refused(build, kind) -> None:
    """``?session=<a live ID>`` is a 400 with an event; ``?sid=3`` passes untouched."""
    h = build(kind)
    cookie = h.request("/write").cookie()
    assert h.request(f"/?session={cookie}").status == 400
    assert "url_id" in h.kinds()
    h.events.clear()
    assert h.request("/?sid=3").status == 200 and "url_id" not in h.kinds()


# -- 8. secrets never print -------------------------------------------------------------------


def test_reprs_show_fingerprints_never_keys() -> None:
    """repr/str of the config, the ID codec and token keys hold no key material."""
    key = secrets.token_urlsafe(40)
    config = SessionConfig(secret_keys=[key, SECRET])
    hmac_key = secrets.token_bytes(32)
    service = TokenService(
        MemoryBackend(), keys={"k1": hmac_key}, algorithm="HS256", issuer="i", audience="a"
    )
    texts = [repr(config), str(config), repr(IdCodec(config.secrets)), repr(service._keys)]
    for text in texts:
        assert key not in text and SECRET not in text
        assert repr(hmac_key) not in text and hmac_key.hex() not in text
    assert "2 key(s)" in repr(config)


# -- 9. Vary ----------------------------------------------------------------------------------


def test_vary_only_when_the_session_was_used_and_merged(build, kind) -> None:
    """An untouched session adds no Vary; a read one merges Cookie into the app's Vary."""
    h = build(kind)
    cookie = h.request("/write").cookie()
    untouched = h.request("/untouched", cookie=cookie)
    assert untouched.status == 200
    assert [v for k, v in untouched.headers if k.lower() == "vary"] == []
    read = h.request("/vary", cookie=cookie)
    assert [v for k, v in read.headers if k.lower() == "vary"] == ["Accept-Encoding, Cookie"]


def test_untrusted_forwarding_is_reported_once(build, kind, caplog) -> None:
    """X-Forwarded-For from a peer not in trusted_proxies: one warning and one event."""
    h = build(kind)
    with caplog.at_level(logging.WARNING, logger="sessionware"):
        for _ in range(5):
            h.request("/", client="10.0.0.2", headers={"x-forwarded-for": "203.0.113.9"})
    warnings = [r for r in caplog.records if r.name == "sessionware"]
    assert len(warnings) == 1 and "10.0.0.2" in warnings[0].getMessage()
    assert h.kinds().count("untrusted_forwarding") == 1


@pytest.mark.parametrize("origin", ["https://a*.example.com", "https://*", "https://*.com*"])
def test_a_wildcard_must_be_the_leftmost_label(origin) -> None:
    """Only ``https://*.example.com`` shapes are accepted; anything looser is a ConfigError."""
    from sessionware.errors import ConfigError

    with pytest.raises(ConfigError, match="wildcard"):
        SessionConfig(secret_keys=[SECRET], allowed_origins=[origin])
