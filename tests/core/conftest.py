"""A tiny adapter for engine tests: drives begin -> load -> resume -> commit -> apply -> finish.

It does what asgi.py and wsgi.py do, minus the protocol, and keeps one cookie
like a browser would, so tests read as request sequences with a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from sessionware import Engine, Event, RequestFacts, Session, SessionConfig
from sessionware.backends import MemoryBackend
from sessionware.events import emit
from sessionware.records import APPLIED, Op, Record, encode
from sessionware.testing import FakeClock

from ..conftest import SECRET

App = Callable[[Session], Any]


@dataclass
class Response:
    status: int
    session: Session | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    ops: tuple[Op, ...] = ()
    ok: bool = True

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def set_cookie(self) -> str | None:
        values = self.all("set-cookie")
        assert len(values) <= 1, values
        return values[0] if values else None

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


class Browser:
    """One client with a one-cookie jar, talking to an engine and a backend."""

    def __init__(self, engine: Engine, backend: MemoryBackend) -> None:
        self.engine = engine
        self.backend = backend
        self.cookie: str | None = None  # the session cookie's value

    @property
    def name(self) -> str:
        return self.engine.config.cookie_name

    def request(
        self,
        app: App | None = None,
        *,
        status: int = 200,
        path: str = "/",
        query: str = "",
        cookie: str | None = None,
        read_only: bool = False,
    ) -> Response:
        engine = self.engine
        if cookie is None and self.cookie is not None:
            cookie = f"{self.name}={self.cookie}"
        facts = RequestFacts(
            path=path, query=query, cookie=cookie, client="203.0.113.5", user_agent="Firefox/1"
        )
        begin = engine.begin(facts)
        events = list(begin.events)
        if begin.status is not None:
            return self._done(Response(begin.status, events=events))
        record = self.backend.load(begin.key, engine.clock()) if begin.key else None
        session = engine.resume(begin, record, facts, read_only=read_only)
        events += session.pending_events
        session.pending_events.clear()
        if app is not None:
            app(session)
        commit = engine.commit(session, status, facts)
        result = self.backend.apply(commit.ops, engine.clock()) if commit.ops else APPLIED
        headers, more = engine.finish(commit, result, facts)
        response = Response(status, session, list(headers), events + more, commit.ops, result.ok)
        for value in response.all("set-cookie"):
            name, _, rest = value.partition("=")
            if name == self.name:
                self.cookie = None if "Max-Age=0" in rest else rest.split(";", 1)[0]
        return self._done(response)

    def _done(self, response: Response) -> Response:
        for event in response.events:
            emit(event, self.engine.config.on_event)
        return response


@pytest.fixture
def make_browser(clock: FakeClock, backend: MemoryBackend) -> Callable[..., Browser]:
    """``make_browser(**config_fields)``: a Browser on a fresh engine sharing clock and backend."""

    def make(**fields: Any) -> Browser:
        fields.setdefault("secret_keys", [SECRET])
        return Browser(Engine(SessionConfig(**fields), clock=clock), backend)

    return make


@pytest.fixture
def browser(make_browser: Callable[..., Browser]) -> Browser:
    return make_browser()


def write(**data: Any) -> App:
    """An app that sets the given keys."""
    return lambda session: session.update(data)


def login(user: str = "alice", remember: bool = False) -> App:
    return lambda session: session.login(user, remember=remember)


def read(key: str = "n") -> App:
    return lambda session: session.get(key)


def stored(**data: Any) -> Record:
    """A live anonymous record holding ``data`` (encoded as the engine stores it)."""
    return Record(
        key="k",
        handle="h",
        data={k: encode(v) for k, v in data.items()},
        created_at=0.0,
        last_active=0.0,
        expires_at=10.0,
        absolute_at=10.0,
    )
