"""The fast path of a request without a session cookie (issue #16), on raw ASGI.

Such a request is not screened, resumed or given facts until the app touches
its session; these tests pin that it still behaves exactly like the full path:
a write still creates a session, a URL-borne ID is still refused, tossed or
forwarded headers still take the full path, login CSRF is still refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sessionware import Event, SessionConfig, SessionDataTooLarge, SessionMiddleware
from sessionware import asgi as asgi_module
from sessionware.backends import MemoryBackend
from sessionware.lazy import Fresh, LazySession, lazy_type, unloaded
from sessionware.scope import facts_from_scope
from sessionware.session import Session
from sessionware.testing import CountingBackend

from ..conftest import SECRET
from .conftest import FlakyBackend

Scope = dict[str, Any]
App = Callable[[Any, Any, Any], Awaitable[None]]
#: 43 + 1 + 43 URL-safe characters: our signed shape, as a URL-borne ID would be.
SIGNED_SHAPE = "A" * 43 + "." + "B" * 43


def app_doing(action: Callable[[Session], object], body_parts: int = 1) -> App:
    """A raw ASGI app that does ``action`` to the session, then answers 200 in parts."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        action(scope["session"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(body_parts):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def middleware(
    app: App, backend: Any = None, events: list[Event] | None = None, **fields: Any
) -> SessionMiddleware:
    sink = None if events is None else events.append
    config = SessionConfig(secret_keys=[SECRET], on_event=sink, **fields)
    return SessionMiddleware(
        app, config=config, backend=MemoryBackend() if backend is None else backend
    )


async def call(
    mw: SessionMiddleware,
    *,
    path: str = "/",
    query: bytes = b"",
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    kind: str = "http",
) -> tuple[Scope, list[dict[str, Any]]]:
    """One request; returns the scope the app saw and the messages sent to the server."""
    scope: Scope = {
        "type": kind,
        "method": method,
        "path": path,
        "query_string": query,
        "scheme": "https",
        "client": ("198.51.100.7", 5000),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        if kind == "websocket":
            return {"type": "websocket.connect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await mw(scope, receive, send)
    return scope, sent


def header(messages: list[dict[str, Any]], name: bytes) -> list[bytes]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    return [v for k, v in start["headers"] if k.lower() == name]


async def test_an_untouched_request_without_cookie_is_never_loaded_and_costs_no_store_call() -> (
    None
):
    """No session cookie, session untouched: no store call, no header, the session never built."""
    counting = CountingBackend(MemoryBackend())
    mw = middleware(app_doing(lambda s: None), counting)
    scope, sent = await call(mw, headers=(("cookie", "theme=dark"),))
    assert unloaded(scope["session"])
    assert isinstance(scope["session"], Session)
    assert counting.total == 0
    assert header(sent, b"set-cookie") == [] and header(sent, b"vary") == []
    assert [m["body"] for m in sent[1:]] == [b"x", b""]


async def test_an_untouched_request_without_cookie_builds_no_facts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The facts are built only when a commit needs them: never for an untouched request."""
    built: list[object] = []

    def counting(scope: Any, clients: Any) -> Any:
        built.append(scope)
        return facts_from_scope(scope, clients)

    monkeypatch.setattr(asgi_module, "facts_from_scope", counting)
    await call(middleware(app_doing(lambda s: None)))
    assert built == []
    await call(middleware(app_doing(lambda s: s.get("n"))))
    assert len(built) == 1


async def test_a_write_without_cookie_still_creates_a_session() -> None:
    """The fast path's lazy session, once written, commits as a new session: one apply."""
    counting = CountingBackend(MemoryBackend())
    mw = middleware(app_doing(lambda s: s.__setitem__("n", 1)), counting)
    scope, sent = await call(mw)
    assert not unloaded(scope["session"])
    (cookie,) = header(sent, b"set-cookie")
    assert cookie.startswith(b"__Host-session=")
    assert header(sent, b"vary") == [b"Cookie"]
    assert counting.calls["apply"] + counting.calls["aapply"] == 1
    assert counting.calls["load"] + counting.calls["aload"] == 0

    async def peek(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": repr(scope["session"]["n"]).encode()})

    value = cookie.split(b";")[0].decode("latin-1")
    reader = SessionMiddleware(peek, config=mw.config, backend=counting)
    _, sent = await call(reader, headers=(("cookie", value),))
    assert sent[-1]["body"] == b"1"


async def test_a_read_without_cookie_varies_on_cookie_and_writes_nothing() -> None:
    """Reading the empty session marks the response ``Vary: Cookie``, sets no cookie."""
    counting = CountingBackend(MemoryBackend())
    mw = middleware(app_doing(lambda s: s.get("user")), counting)
    _, sent = await call(mw)
    assert header(sent, b"vary") == [b"Cookie"]
    assert header(sent, b"set-cookie") == []
    assert counting.total == 0


async def test_the_fresh_session_keeps_the_size_limit() -> None:
    """The fast path's session keeps ``max_data_bytes``: an oversized write fails at once."""
    refused: list[BaseException] = []

    def write(session: Session) -> None:
        session["small"] = "x" * 10
        try:
            session["big"] = "x" * 200
        except ValueError as exc:
            refused.append(exc)

    backend = MemoryBackend()
    mw = middleware(app_doing(write), backend, max_data_bytes=100)
    scope, sent = await call(mw)
    assert len(refused) == 1, "an oversized write on a fresh session passed"
    assert dict(scope["session"]) == {"small": "x" * 10}
    assert header(sent, b"set-cookie") != []  # the small write is still saved


async def test_a_url_borne_id_without_cookie_is_still_refused() -> None:
    """``?sid=<signed shape>`` with no cookie at all: 400 and a ``url_id`` event (FX-01)."""
    events: list[Event] = []
    ran: list[bool] = []  # the app never runs
    mw = middleware(app_doing(lambda s: ran.append(True)), events=events)
    _, sent = await call(mw, query=b"sid=" + SIGNED_SHAPE.encode())
    assert sent[0]["status"] == 400 and not ran
    assert [e.kind for e in events] == ["url_id"]


async def test_a_path_parameter_id_without_cookie_is_still_refused() -> None:
    """``/page;jsessionid=<id>`` with no cookie: 400, and the event names the path without it."""
    events: list[Event] = []
    mw = middleware(app_doing(lambda s: None), events=events)
    _, sent = await call(mw, path=f"/page;jsessionid={SIGNED_SHAPE}")
    assert sent[0]["status"] == 400
    assert [(e.kind, e.detail["path"]) for e in events] == [("url_id", "/page")]


async def test_a_session_cookie_in_a_second_cookie_header_takes_the_full_path() -> None:
    """HTTP/2 splits cookies over several headers: two of ours there is still tossing (FX-05)."""
    events: list[Event] = []
    mw = middleware(app_doing(lambda s: None), events=events)
    ours = f"__Host-session={SIGNED_SHAPE}"
    scope, _ = await call(mw, headers=(("cookie", "theme=dark"), ("cookie", f"{ours}; {ours}")))
    assert [e.kind for e in events] == ["cookie_tossing"]
    assert not unloaded(scope["session"])


async def test_forwarding_headers_without_cookie_still_warn_about_the_untrusted_peer() -> None:
    """``X-Forwarded-For`` from a peer not in trusted_proxies is reported without a cookie."""
    events: list[Event] = []
    mw = middleware(app_doing(lambda s: None), events=events)
    await call(mw, headers=(("x-forwarded-for", "203.0.113.9"),))
    assert [e.kind for e in events] == ["untrusted_forwarding"]


async def test_a_forwarded_header_without_cookie_still_warns() -> None:
    """The RFC 7239 ``Forwarded`` header counts as forwarding too."""
    events: list[Event] = []
    mw = middleware(app_doing(lambda s: None), events=events)
    await call(mw, headers=(("forwarded", "for=203.0.113.9"),))
    assert [e.kind for e in events] == ["untrusted_forwarding"]


async def test_a_cross_site_login_without_cookie_is_still_refused() -> None:
    """Login CSRF needs no prior session: the late facts still carry Origin and method (CS-01)."""
    events: list[Event] = []
    backend = CountingBackend(MemoryBackend())
    mw = middleware(app_doing(lambda s: s.login("mallory"), body_parts=2), backend, events)
    headers = (("host", "app.example"), ("origin", "https://evil.example"))
    _, sent = await call(mw, method="POST", headers=headers)
    assert sent[0]["status"] == 403
    assert header(sent, b"set-cookie") == []
    assert [m.get("body") for m in sent[1:]] == [b"Forbidden: cross-site request refused.\n"]
    assert backend.total == 0
    assert "csrf" in [e.kind for e in events]


async def test_a_failed_write_without_cookie_replaces_the_response_and_drops_its_body() -> None:
    """The store down at commit: 503 and none of the app's body parts reach the server."""
    flaky = FlakyBackend()
    flaky.down = True
    mw = middleware(app_doing(lambda s: s.__setitem__("n", 1), body_parts=3), flaky)
    _, sent = await call(mw)
    assert sent[0]["status"] == 503
    assert len(sent) == 2 and b"unavailable" in sent[1]["body"]


async def test_a_websocket_without_cookie_still_gets_a_read_only_session() -> None:
    """Websockets never take the fast path: their session is read-only from the start."""
    seen: list[Session] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["session"])
        await send({"type": "websocket.close", "code": 1000})

    mw = middleware(app)
    await call(mw, kind="websocket")
    assert not unloaded(seen[0]) and seen[0].read_only


async def test_a_read_merges_vary_into_the_apps_own() -> None:
    """The app's own ``Vary`` (any case) gets ``Cookie`` added in place, never a second header."""
    for own, merged in ((b"Accept-Encoding", b"Accept-Encoding, Cookie"), (b"cookie", b"cookie")):

        async def app(scope: Any, receive: Any, send: Any, own: bytes = own) -> None:
            scope["session"].get("user")
            headers = [(b"content-type", b"text/plain"), (b"Vary", own)]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})

        _, sent = await call(middleware(app))
        assert header(sent, b"vary") == [merged]
        assert header(sent, b"content-type") == [b"text/plain"]


def test_a_fresh_lazy_session_becomes_a_plain_session_in_place() -> None:
    """``Fresh`` stands in for a loader: first use makes the object a new empty session."""
    session: Session = LazySession(loader=Fresh(100))
    assert unloaded(session)
    session["a"] = 1
    assert type(session) is Session and dict(session) == {"a": 1}
    assert session.record is None and not session.presented and session.modified
    with pytest.raises(SessionDataTooLarge):
        session["big"] = "x" * 200
    assert dict(session) == {"a": 1}


def test_a_fresh_twin_becomes_its_own_class_and_runs_its_init() -> None:
    """For a subclass (Flask's), the twin becomes that class and its ``__init__`` runs."""

    class Marked(Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.marked = True

    session: Session = lazy_type(Marked)(loader=Fresh(64))
    assert session.get("n") is None
    assert type(session) is Marked and session.marked
    assert not unloaded(session)


async def test_a_write_without_cookie_past_the_limit_fails_where_it_is_made() -> None:
    """The fast path's session keeps ``max_data_bytes``: the oversized assignment raises."""
    raised: list[BaseException] = []

    def write(session: Session) -> None:
        try:
            session["big"] = "x" * 500
        except SessionDataTooLarge as exc:
            raised.append(exc)

    counting = CountingBackend(MemoryBackend())
    _, sent = await call(middleware(app_doing(write), counting, max_data_bytes=100))
    assert len(raised) == 1 and counting.total == 0
    assert header(sent, b"set-cookie") == []


def test_fresh_builds_unloaded_sessions_of_the_class_asked_for() -> None:
    """``Fresh.session(twin)`` is ``twin(loader=fresh)``: unloaded, then a new empty session."""
    fresh = Fresh(100)
    session: Session = fresh.session(LazySession)
    assert unloaded(session) and not session.accessed and not session.modified
    assert session.get("n") is None
    assert type(session) is Session and session.accessed
    with pytest.raises(SessionDataTooLarge):
        session["big"] = "x" * 200
