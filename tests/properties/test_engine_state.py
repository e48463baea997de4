"""A stateful model of session lifecycles (hypothesis RuleBasedStateMachine).

Clients log in, write, regenerate, log out, get revoked, wait, and commit
concurrently; the machine checks the lifecycle invariants after every step:

* an ID that was rotated, logged out, revoked or expired is never valid again;
* data written to a live session is never lost (concurrent distinct keys too);
* a session never outlives its absolute deadline (nor its idle limit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionware import SessionConfig, SessionManager
from sessionware.backends import MemoryBackend
from sessionware.core import Engine, RequestFacts
from sessionware.records import APPLIED
from sessionware.session import Session
from sessionware.testing import FakeClock

IDLE = 600.0
ABSOLUTE = 3600.0
TOUCH = 60.0
NAME = "__Host-session"


@dataclass
class Client:
    cookie: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    absolute_at: float = 0.0
    last_active: float = 0.0
    user: str | None = None


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.config = SessionConfig(
            secret_keys=["p" * 32],
            idle_timeout=IDLE,
            absolute_timeout=ABSOLUTE,
            touch_interval=TOUCH,
        )
        self.engine = Engine(self.config, clock=self.clock)
        self.backend = MemoryBackend()

    def open(self, cookie: str | None) -> tuple[Session, RequestFacts, Any]:
        facts = RequestFacts(cookie=f"{NAME}={cookie}" if cookie else None, client="198.51.100.7")
        begin = self.engine.begin(facts)
        record = self.backend.load(begin.key, self.clock()) if begin.key else None
        return self.engine.resume(begin, record, facts), facts, begin

    def close(self, session: Session, facts: RequestFacts, cookie: str | None) -> str | None:
        commit = self.engine.commit(session, 200, facts)
        result = self.backend.apply(commit.ops, self.clock()) if commit.ops else APPLIED
        headers, _ = self.engine.finish(commit, result, facts)
        for name, value in headers:
            if name == "set-cookie":
                pair = value.split(";", 1)[0]
                new = pair.split("=", 1)[1]
                return new or None
        return cookie


class SessionLifecycle(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.h = Harness()
        self.clients = [Client() for _ in range(3)]
        self.dead: set[str] = set()
        self.manager = SessionManager(self.h.backend, clock=self.h.clock)

    def _retire(self, client: Client) -> None:
        if client.cookie:
            self.dead.add(client.cookie)
        client.cookie = None
        client.data = {}
        client.user = None

    def _expired(self, client: Client) -> bool:
        now = self.h.clock()
        return now >= client.absolute_at or now >= client.last_active + IDLE

    def _request(self, index: int, action: Any) -> None:
        client = self.clients[index]
        if client.cookie and self._expired(client):
            self._retire(client)  # the model's view: expired means dead
        old = client.cookie
        session, facts, _ = self.h.open(client.cookie)
        if old and session.is_new:
            raise AssertionError("a live session was not found")
        action(session, client)
        new = self.h.close(session, facts, client.cookie)
        if new != old and old is not None:
            self.dead.add(old)
        if new is not None and new != old:
            now = self.h.clock()
            if old is None or client.absolute_at == 0.0 or session.intent == "login":
                client.absolute_at = now + ABSOLUTE
            client.last_active = now
        elif new is not None:
            client.last_active = self.h.clock()  # every rule writes, and a write slides idle
        client.cookie = new

    @rule(i=st.integers(0, 2), key=st.sampled_from("abc"), value=st.integers(0, 9))
    def write(self, i: int, key: str, value: int) -> None:
        def act(session: Session, client: Client) -> None:
            session[key] = value
            client.data[key] = value

        self._request(i, act)

    @rule(i=st.integers(0, 2))
    def append_nested(self, i: int) -> None:
        def act(session: Session, client: Client) -> None:
            session.setdefault("list", [])
            session["list"].append(len(session["list"]))
            client.data["list"] = list(session["list"])

        self._request(i, act)

    @rule(i=st.integers(0, 2), user=st.sampled_from(["u1", "u2"]))
    def login(self, i: int, user: str) -> None:
        self._request(i, lambda s, c: s.login(user))
        self.clients[i].user = user

    @rule(user=st.sampled_from(["u1", "u2"]), keep=st.booleans())
    def revoke_user(self, user: str, keep: bool) -> None:
        """An admin ends every session of ``user`` (optionally but one); TM-03."""
        live = [c for c in self.clients if c.cookie and c.user == user and not self._expired(c)]
        kept = live[0] if keep and live else None
        handle = None
        if kept is not None:
            handle = self.h.open(kept.cookie)[0].handle
        assert self.manager.revoke_user(user, keep=handle) == len(live) - (kept is not None)
        for client in live:
            if client is not kept:
                self._retire(client)

    @precondition(lambda self: any(c.cookie for c in self.clients))
    @rule(i=st.integers(0, 2))
    def expire(self, i: int) -> None:
        """Time passes beyond one client's idle or absolute limit."""
        client = self.clients[i]
        if client.cookie:
            now = self.h.clock()
            deadline = min(client.last_active + IDLE, client.absolute_at)
            self.h.clock.advance(max(deadline - now, 0.0) + 0.5)

    @precondition(lambda self: any(c.cookie for c in self.clients))
    @rule(i=st.integers(0, 2))
    def regenerate(self, i: int) -> None:
        if self.clients[i].cookie:
            self._request(i, lambda s, c: s.regenerate())

    @rule(i=st.integers(0, 2))
    def logout(self, i: int) -> None:
        client = self.clients[i]

        def act(session: Session, c: Client) -> None:
            session.logout()

        self._request(i, act)
        self._retire(client)

    @rule(i=st.integers(0, 2))
    def revoke(self, i: int) -> None:
        client = self.clients[i]
        if not client.cookie or self._expired(client):
            return
        session, _, _ = self.h.open(client.cookie)
        assert session.handle is not None
        assert self.manager.revoke(session.handle)
        self._retire(client)

    @rule(i=st.integers(0, 2), a=st.sampled_from("xy"), b=st.sampled_from("zw"))
    def concurrent_commit(self, i: int, a: str, b: str) -> None:
        client = self.clients[i]
        if not client.cookie or self._expired(client):
            return
        s1, f1, _ = self.h.open(client.cookie)
        s2, f2, _ = self.h.open(client.cookie)
        s1[a] = 1
        s2[b] = 2
        self.h.close(s1, f1, client.cookie)
        self.h.close(s2, f2, client.cookie)
        client.data.update({a: 1, b: 2})
        client.last_active = self.h.clock()

    @rule(seconds=st.sampled_from([1.0, 59.0, 61.0, 300.0, 599.0, 601.0, 1800.0]))
    def advance(self, seconds: float) -> None:
        self.h.clock.advance(seconds)

    @invariant()
    def dead_ids_stay_dead(self) -> None:
        for cookie in self.dead:
            session, _, _ = self.h.open(cookie)
            assert session.is_new, "a rotated, logged-out, revoked or expired ID loaded a session"

    @invariant()
    def live_sessions_keep_their_data_and_deadlines(self) -> None:
        now = self.h.clock()
        for client in self.clients:
            if not client.cookie:
                continue
            session, _, _ = self.h.open(client.cookie)
            if self._expired(client):
                assert session.is_new, "a session outlived its idle or absolute limit"
                continue
            assert not session.is_new, "a live session vanished"
            assert dict(session) == client.data, "data written to a live session was lost"
            assert session.record is not None and now < session.record.absolute_at


SessionLifecycle.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionLifecycle = SessionLifecycle.TestCase
