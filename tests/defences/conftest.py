"""A two-adapter harness for guard tests: the real middleware, driven in-process.

Each test gets a middleware (ASGI or WSGI) over a counting memory backend, a
hand-moved clock and a list of every event it raised.  Requests are sent
straight through the ASGI/WSGI interfaces (no HTTP client, so 10,000 of them
take a second), with the client address, headers and cookie given per call.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from sessionware import SessionMiddleware, WSGISessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.defences.csrf import verify_csrf
from sessionware.events import Event
from sessionware.session import Session
from sessionware.testing import CountingBackend, FakeClock

SECRET = "kR3v9xQe0YwT2bN7mLp4sHz8UcJf6DaG1iOq5VtWyEk"
COOKIE = "__Host-session"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def forged() -> str:
    """A fresh cookie value of our signed shape whose signature fails (what counts, #13)."""
    return f"{secrets.token_urlsafe(32)}.{secrets.token_urlsafe(32)}"


def act(session: Session, method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """What the test app does: one path per session operation."""
    if path == "/login":
        session.login("alice")
    elif path == "/write":
        session["n"] = int(dict.get(session, "n", 0)) + 1
    elif path == "/token":
        return {"token": session.csrf_token()}
    elif path == "/checked":
        return {"valid": verify_csrf(session, headers.get("x-csrf-token"))}
    elif method != "GET":
        session["posted"] = True
    return {"user": session.user_id, "n": session.get("n")}


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    out = act(scope["session"], scope["method"], scope["path"], headers)
    body = json.dumps(out).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    out = act(
        environ["sessionware.session"], environ["REQUEST_METHOD"], environ["PATH_INFO"], headers
    )
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]


@dataclass
class Resp:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def cookie(self) -> str | None:
        """The session cookie value this response set ("" when it expired it)."""
        for k, v in self.headers:
            if k.lower() == "set-cookie" and v.startswith(COOKIE + "="):
                return v.split(";", 1)[0].split("=", 1)[1]
        return None


@dataclass
class Harness:
    kind: str
    mw: Any
    backend: CountingBackend
    clock: FakeClock
    events: list[Event] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    #: How requests reach the app (``"http"`` behind a TLS-terminating proxy).
    scheme: str = "https"

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def request(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        cookie: str | None = None,
        client: str = "203.0.113.5",
        headers: dict[str, str] | None = None,
        agent: str = FIREFOX,
        host: str = "example.com",
    ) -> Resp:
        all_headers = {"host": host, "user-agent": agent, **(headers or {})}
        if cookie is not None:
            all_headers["cookie"] = f"{COOKIE}={cookie}"
        if self.kind == "asgi":
            return self._asgi(path, method, all_headers, client)
        return self._wsgi(path, method, all_headers, client)

    def websocket(self, *, cookie: str, origin: str, client: str = "203.0.113.5") -> str:
        """Open a websocket; returns the first message type the app or middleware sent."""
        scope = self._scope(
            "websocket",
            "/ws",
            "GET",
            {"host": "example.com", "origin": origin, "cookie": f"{COOKIE}={cookie}"},
            client,
        )
        scope["scheme"] = "wss"
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        assert self.loop is not None
        self.loop.run_until_complete(self.mw(scope, receive, send))
        return str(sent[0]["type"])

    def _scope(
        self, kind: str, path: str, method: str, headers: dict[str, str], client: str
    ) -> dict[str, Any]:
        path, _, query = path.partition("?")
        return {
            "type": kind,
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": self.scheme,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ],
            "client": (client, 40000),
            "server": ("example.com", 443),
        }

    def _asgi(self, path: str, method: str, headers: dict[str, str], client: str) -> Resp:
        scope = self._scope("http", path, method, headers, client)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        assert self.loop is not None
        self.loop.run_until_complete(self.mw(scope, receive, send))
        start = sent[0]
        body = b"".join(m.get("body", b"") for m in sent[1:])
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        return Resp(start["status"], pairs, body)

    def _wsgi(self, path: str, method: str, headers: dict[str, str], client: str) -> Resp:
        path, _, query = path.partition("?")
        environ = EnvironBuilder(
            path=path,
            method=method,
            query_string=query,
            base_url=f"{self.scheme}://example.com",
            environ_base={"REMOTE_ADDR": client},
        ).get_environ()
        for name, value in headers.items():  # raw, as a server would pass them on
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: list[Any] = []

        def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, hdrs]
            return lambda _chunk: None

        result = self.mw(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Resp(int(captured[0].split()[0]), list(captured[1]), body)


@pytest.fixture
def make() -> Iterator[Any]:
    """``make(kind, **config_fields)`` builds a :class:`Harness` for ``"asgi"`` or ``"wsgi"``."""
    loops: list[asyncio.AbstractEventLoop] = []

    def build(kind: str = "asgi", **fields: Any) -> Harness:
        clock = FakeClock()
        backend = CountingBackend(MemoryBackend())
        harness = Harness(kind, None, backend, clock)
        fields.setdefault("secret_keys", [SECRET])
        fields.setdefault("on_event", harness.events.append)
        cls = SessionMiddleware if kind == "asgi" else WSGISessionMiddleware
        app = asgi_app if kind == "asgi" else wsgi_app
        harness.mw = cls(app, backend=backend, clock=clock, **fields)
        if kind == "asgi":
            harness.loop = asyncio.new_event_loop()
            loops.append(harness.loop)
        return harness

    yield build
    for loop in loops:
        loop.close()


@pytest.fixture(params=["asgi", "wsgi"])
def kind(request: pytest.FixtureRequest) -> str:
    """Run the test against both adapters."""
    return str(request.param)
