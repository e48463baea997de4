"""A site for commit tests: one engine on a memory store that keeps tombstones.

``Site.request`` goes through the same steps as the adapters (begin, load,
the tombstone read for a dead cookie, resume, the app, commit, apply,
finish) so a test can replay an old cookie and see why its session ended;
``open``/``close`` split a request in two to interleave concurrent ones.
A site builds its engine when constructed, so tests build sites inside the
test function (mutmut swaps the code after import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessionware import Event, RequestFacts, Session, SessionConfig
from sessionware.adapters import Shared
from sessionware.backends import MemoryBackend
from sessionware.records import APPLIED
from sessionware.testing import FakeClock

from ..conftest import SECRET

AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
OTHER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"
CLIENT = "203.0.113.5"


@dataclass
class Reply:
    """What one request gave: its session, the Set-Cookie header and the events."""

    session: Session
    set_cookie: str | None
    events: list[Event] = field(default_factory=list)
    ok: bool = True

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    @property
    def value(self) -> str | None:
        """The cookie value set, or None when none was set or it was deleted."""
        if self.set_cookie is None or "Max-Age=0" in self.set_cookie:
            return None
        return self.set_cookie.split(";", 1)[0].partition("=")[2]

    @property
    def deleted(self) -> bool:
        return self.set_cookie is not None and "Max-Age=0" in self.set_cookie

    @property
    def max_age(self) -> int | None:
        """The Max-Age of the cookie set (None for a session cookie or no cookie)."""
        for attr in (self.set_cookie or "").split(";")[1:]:
            name, _, number = attr.strip().partition("=")
            if name == "Max-Age":
                return int(number)
        return None


@dataclass
class Pending:
    """A request between resume and commit."""

    session: Session
    facts: RequestFacts
    events: list[Event]


class Site:
    """An engine, a memory store and a hand-moved clock (``backend`` may be shared)."""

    def __init__(
        self,
        clock: FakeClock | None = None,
        backend: MemoryBackend | None = None,
        **fields: Any,
    ) -> None:
        fields.setdefault("secret_keys", [SECRET])
        fields.setdefault("guard", None)
        self.clock = clock if clock is not None else FakeClock()
        self.backend = backend if backend is not None else MemoryBackend()
        self.config = SessionConfig(**fields)
        self.shared = Shared(self.config, self.backend, self.clock)
        self.engine = self.shared.engine

    def open(
        self, cookie: str | None = None, *, agent: str = AGENT, client: str | None = CLIENT
    ) -> Pending:
        header = None if cookie is None else f"{self.config.cookie_name}={cookie}"
        facts = RequestFacts(path="/", cookie=header, client=client, user_agent=agent)
        begin = self.engine.begin(facts)
        record, down, ending = None, None, None
        if begin.key is not None:
            record, down = self.shared.load(begin.key)
            if record is None and not down:
                ending = self.shared.ending(begin.key)
        session = self.engine.resume(begin, record, facts, unavailable=down, ending=ending)
        events = [*begin.events, *session.pending_events]
        session.pending_events.clear()
        return Pending(session, facts, events)

    def close(self, pending: Pending) -> Reply:
        commit = self.engine.commit(pending.session, 200, pending.facts)
        result = self.backend.apply(commit.ops, self.clock()) if commit.ops else APPLIED
        headers, events = self.engine.finish(commit, result, pending.facts)
        cookies = [v for k, v in headers if k == "set-cookie"]
        assert len(cookies) <= 1, cookies
        return Reply(
            pending.session,
            cookies[0] if cookies else None,
            pending.events + events,
            result.ok,
        )

    def request(
        self,
        app: Callable[[Session], Any] | None = None,
        cookie: str | None = None,
        *,
        agent: str = AGENT,
        client: str | None = CLIENT,
    ) -> Reply:
        pending = self.open(cookie, agent=agent, client=client)
        if app is not None:
            app(pending.session)
        return self.close(pending)

    def login(self, user: str = "ann", *, remember: bool = False) -> Reply:
        reply = self.request(lambda s: s.login(user, remember=remember))
        assert reply.value is not None
        return reply
