"""The WSGI fast path of a request without a session cookie, and the unwrapped body (#16).

Raw WSGI calls, so what reaches the server (status, headers, the very
iterable) is seen as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from sessionware import Event, SessionConfig, WSGISessionMiddleware
from sessionware import wsgi as wsgi_module
from sessionware.backends import MemoryBackend
from sessionware.lazy import unloaded
from sessionware.session import Session
from sessionware.testing import CountingBackend
from sessionware.wsgi import ENVIRON_KEY, facts_from_environ

from ..conftest import SECRET
from .conftest import FlakyBackend

SIGNED_SHAPE = "A" * 43 + "." + "B" * 43
Action = Callable[[Session], object]


class Body:
    """An app's response iterable that notes when the server closes it."""

    def __init__(self, closed: list[bool]) -> None:
        self.closed = closed

    def __iter__(self) -> Iterator[bytes]:
        yield b"app body"

    def close(self) -> None:
        self.closed.append(True)


def eager_app(action: Action, closed: list[bool]) -> Callable[..., Iterable[bytes]]:
    """Calls ``start_response`` before returning, as Flask does."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        action(environ[ENVIRON_KEY])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body(closed)

    return app


def late_app(action: Action) -> Callable[..., Iterable[bytes]]:
    """A generator app: ``start_response`` runs only when the server starts iterating."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        action(environ[ENVIRON_KEY])
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"app body"

    return app


def middleware(
    app: Callable[..., Iterable[bytes]],
    backend: Any = None,
    events: list[Event] | None = None,
) -> WSGISessionMiddleware:
    sink = None if events is None else events.append
    config = SessionConfig(secret_keys=[SECRET], on_event=sink)
    store = MemoryBackend() if backend is None else backend
    return WSGISessionMiddleware(app, config=config, backend=store)


def call(
    mw: WSGISessionMiddleware, *, path: str = "/", query: str = "", **extra: str
) -> tuple[dict[str, Any], str, list[tuple[str, str]], Iterable[bytes], bytes]:
    """One request: the environ the app saw, status, headers, the iterable and its bytes."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "198.51.100.7",
        "wsgi.url_scheme": "https",
        "HTTP_HOST": "app.example",
        **extra,
    }
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda chunk: None

    iterable = mw(environ, start_response)
    data = b"".join(iterable)
    status, headers = started[-1]
    return environ, status, headers, iterable, data


def named(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


def test_an_untouched_request_without_cookie_is_never_loaded() -> None:
    """No session cookie, untouched: the session is never built, no store call, no header."""
    counting = CountingBackend(MemoryBackend())
    mw = middleware(eager_app(lambda s: None, []), counting)
    environ, status, headers, _, _ = call(mw, HTTP_COOKIE="theme=dark")
    assert unloaded(environ[ENVIRON_KEY]) and status == "200 OK"
    assert counting.total == 0
    assert named(headers, "set-cookie") == [] and named(headers, "vary") == []


def test_an_untouched_request_without_cookie_builds_no_facts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The facts are built only when a commit needs them: never for an untouched request."""
    built: list[object] = []

    def counting(environ: dict[str, Any], clients: Any) -> Any:
        built.append(environ)
        return facts_from_environ(environ, clients)

    monkeypatch.setattr(wsgi_module, "facts_from_environ", counting)
    mw = middleware(eager_app(lambda s: None, []))
    call(mw)
    assert built == []
    mw = middleware(eager_app(lambda s: s.get("n"), []))
    call(mw)
    assert len(built) == 1


def test_a_write_without_cookie_still_creates_a_session() -> None:
    """The lazy fresh session, written, commits a new session with one apply and a cookie."""
    counting = CountingBackend(MemoryBackend())
    mw = middleware(eager_app(lambda s: s.__setitem__("n", 1), []), counting)
    _, _, headers, _, _ = call(mw)
    (cookie,) = named(headers, "set-cookie")
    assert cookie.startswith("__Host-session=")
    assert named(headers, "vary") == ["Cookie"]
    assert counting.calls["apply"] == 1 and counting.calls["load"] == 0
    seen: list[Any] = []
    reader = middleware(eager_app(lambda s: seen.append(s.get("n")), []), counting)
    call(reader, HTTP_COOKIE=cookie.split(";")[0])
    assert seen == [1]


def test_a_url_borne_id_without_cookie_is_still_refused() -> None:
    """``?sid=<signed shape>`` and no cookie: 400 and a ``url_id`` event (FX-01)."""
    events: list[Event] = []
    mw = middleware(eager_app(lambda s: None, []), events=events)
    _, status, _, _, _ = call(mw, query="sid=" + SIGNED_SHAPE)
    assert status.startswith("400")
    assert [e.kind for e in events] == ["url_id"]


def test_a_path_parameter_id_without_cookie_is_still_refused() -> None:
    """``;jsessionid=<id>`` in the path and no cookie: 400."""
    mw = middleware(eager_app(lambda s: None, []))
    _, status, _, _, _ = call(mw, path=f"/a;jsessionid={SIGNED_SHAPE}")
    assert status.startswith("400")


def test_forwarding_headers_without_cookie_still_warn() -> None:
    """``X-Forwarded-For`` or ``Forwarded`` from an untrusted peer is reported."""
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED"):
        events: list[Event] = []
        mw = middleware(eager_app(lambda s: None, []), events=events)
        call(mw, **{header: "203.0.113.9"})
        assert [e.kind for e in events] == ["untrusted_forwarding"], header


def test_a_cross_site_login_without_cookie_is_still_refused() -> None:
    """Login CSRF: the late facts still carry the method and Origin (CS-01)."""
    counting = CountingBackend(MemoryBackend())
    mw = middleware(eager_app(lambda s: s.login("mallory"), []), counting)
    _, status, headers, _, data = call(
        mw, REQUEST_METHOD="POST", HTTP_ORIGIN="https://evil.example"
    )
    assert status.startswith("403") and named(headers, "set-cookie") == []
    assert data == b"Forbidden: cross-site request refused.\n"
    assert counting.total == 0


def test_a_started_response_goes_out_as_the_apps_own_iterable() -> None:
    """Committed before the app returned: the server gets the app's iterable and closes it."""
    closed: list[bool] = []
    mw = middleware(eager_app(lambda s: s.__setitem__("n", 1), closed))
    _, _, headers, iterable, data = call(mw)
    assert isinstance(iterable, Body) and data == b"app body"
    assert named(headers, "set-cookie")
    iterable.close()
    assert closed == [True]


def test_a_failed_write_at_a_late_start_replaces_the_body() -> None:
    """``start_response`` during iteration and the store down: 503, the app's body dropped."""
    flaky = FlakyBackend()
    flaky.down = True
    mw = middleware(late_app(lambda s: s.__setitem__("n", 1)), flaky)
    _, status, _, _, data = call(mw)
    assert status.startswith("503")
    assert b"app body" not in data and b"unavailable" in data


def test_a_failed_write_at_an_early_start_replaces_the_body() -> None:
    """The same failure when the app started the response before returning."""
    flaky = FlakyBackend()
    flaky.down = True
    mw = middleware(eager_app(lambda s: s.__setitem__("n", 1), []), flaky)
    _, status, _, iterable, data = call(mw)
    assert status.startswith("503") and not isinstance(iterable, Body)
    assert b"app body" not in data and b"unavailable" in data
