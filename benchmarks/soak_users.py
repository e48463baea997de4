"""The soak's virtual users and the rules that classify what they see.

Each user is a browser and a mobile app in one: a cookie session (sign in,
write, read, read back, sign out, replay the dead cookie) and a token session
(issue, call, refresh twice, revoke).  It keeps the cookie itself rather
than in a cookie jar: the session cookie is ``Secure`` and ``__Host-``, and
Python's cookie jar never sends such a cookie over ``http://``.

The classification rules are stated in ``benchmarks/soak.py``'s docstring;
:class:`Outage` and :meth:`VirtualUser._count` apply them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

#: Seconds after the new Redis answers PING in which a request may still fail.
SLACK = 2.0
WRITES_PER_CYCLE = 4
BACKOFF = 0.2
#: Every how many cycles a user's signed-out cookie is replayed (guard: 20 bad/min).
REPLAY_EVERY = 5


@dataclass
class Outage:
    """When Redis was stopped and when the fresh one answered PING (monotonic)."""

    t0: float = 0.0
    stop: float | None = None
    ready: float | None = None

    def overlaps(self, start: float, end: float) -> bool:
        """Whether a request running from ``start`` to ``end`` may see the outage."""
        if self.stop is None:
            return False
        ready = self.ready if self.ready is not None else float("inf")
        return start <= ready + SLACK and end >= self.stop

    def predates_recovery(self, born: float | None, start: float) -> bool:
        """A credential made before Redis came back, used after Redis went down."""
        if self.stop is None or born is None or start < self.stop:
            return False
        return self.ready is None or born <= self.ready


@dataclass
class Tally:
    """Everything the users saw, in one place (one event loop: no locks)."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acked: int = 0
    acked_after_recovery: int = 0
    verified: int = 0
    lost: int = 0
    excused: int = 0
    stale_reads: int = 0
    sessions: int = 0
    token_sessions: int = 0
    refreshes: int = 0
    replays_refused: int = 0
    last_503_after_ready: float | None = None
    examples: list[str] = field(default_factory=list)

    def fail(self, kind: str, example: str) -> None:
        self.failures[kind] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{kind}: {example}")


@dataclass
class Ack:
    key: str
    value: int
    at: float


class VirtualUser:
    """One user looping over sign-in, writes, tokens, read-back and sign-out."""

    def __init__(
        self,
        index: int,
        client: httpx.AsyncClient,
        tally: Tally,
        outage: Outage,
        deadline: float,
        max_requests: int,
        jitter: float,
    ) -> None:
        self.index = index
        self.client = client
        self.tally = tally
        self.outage = outage
        self.deadline = deadline
        self.max_requests = max_requests
        self.jitter = jitter
        # Its own address, trusted from loopback as a proxy would send it.
        self.address = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
        self.thief = f"172.16.{index // 256 % 256}.{index % 256}"
        self.cookie: str | None = None
        self.cycle = 0

    def stopping(self) -> bool:
        return time.monotonic() >= self.deadline or self.tally.requests >= self.max_requests

    async def run(self) -> None:
        await asyncio.sleep(self.jitter * 0.2)  # don't start in lockstep
        while not self.stopping():
            await self.cycle_once()

    # -- one request ------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        bearer: str | None = None,
        cookie: str | None = None,
        born: float | None = None,
        expect_401: bool = False,
        address: str | None = None,
    ) -> httpx.Response | None:
        headers = {
            "x-forwarded-for": address or self.address,
            "user-agent": "soak/1.0 (virtual user)",
        }
        sent_cookie = self.cookie if cookie is None else cookie
        if sent_cookie and bearer is None:
            headers["cookie"] = f"__Host-session={sent_cookie}"
        if bearer is not None:
            headers["authorization"] = f"Bearer {bearer}"
        start = time.monotonic()
        try:
            response = await self.client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.tally.requests += 1
            self.tally.statuses["transport-error"] += 1
            self.tally.fail("transport error", f"{method} {path}: {exc!r}")
            return None
        end = time.monotonic()
        self.client.cookies.clear()  # we keep the cookie ourselves
        if cookie is None:
            self._take_cookie(response)
        self._count(method, path, response.status_code, start, end, born, expect_401)
        return response

    def _take_cookie(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            pair, _, attributes = header.partition(";")
            name, _, value = pair.partition("=")
            if name.strip() != "__Host-session":
                continue
            self.cookie = None if "max-age=0" in attributes.lower() or not value else value

    def _count(
        self,
        method: str,
        path: str,
        status: int,
        start: float,
        end: float,
        born: float | None,
        expect_401: bool,
    ) -> None:
        tally, outage = self.tally, self.outage
        tally.requests += 1
        tally.statuses[str(status)] += 1
        tally.latencies.append(end - start)
        what = f"{method} {path} -> {status} at {start - outage.t0:.2f}s"
        if status < 400:
            return
        if status == 503:
            if not outage.overlaps(start, end):
                tally.fail("503 outside the outage", what)
            elif outage.ready is not None and end > outage.ready:
                late = end - outage.ready
                tally.last_503_after_ready = max(tally.last_503_after_ready or 0.0, late)
            return
        if status == 401 and (
            expect_401 or outage.overlaps(start, end) or outage.predates_recovery(born, start)
        ):
            return
        kind = "5xx" if status >= 500 else f"unexpected {status}"
        tally.fail(kind, what)

    # -- one cycle --------------------------------------------------------------

    async def cycle_once(self) -> None:
        self.cycle += 1
        user = f"user-{self.index}"
        login = await self.call("POST", "/login", body={"user": user})
        if login is None or login.status_code != 200 or self.cookie is None:
            await asyncio.sleep(BACKOFF)
            return
        born = time.monotonic()
        self.tally.sessions += 1
        acks: list[Ack] = []
        for j in range(WRITES_PER_CYCLE):
            if self.stopping():
                break
            ack = await self._write(f"u{self.index}c{self.cycle}w{j}", j, born)
            if ack is False:
                break
            if ack is not None:
                acks.append(ack)
            if not await self._read(acks, born):
                break
        if not self.stopping():
            await self._tokens(user)
        await self._read_back(acks, born)
        if self.stopping():
            return  # the last session stays open: read back above, after the load
        old = self.cookie
        done = await self.call("POST", "/logout", born=born)
        replay_due = self.cycle % REPLAY_EVERY == 0
        if replay_due and done is not None and done.status_code == 200 and old is not None:
            # A thief replays the signed-out cookie from elsewhere.  Only every few
            # cycles: each replay is a bad event for the guard, and one user signing
            # out many times a minute would otherwise (rightly) be blocked.
            replay = await self.call(
                "GET", "/data", cookie=old, expect_401=True, address=self.thief
            )
            if replay is not None and replay.status_code == 200:
                self.tally.fail("signed-out cookie still works", f"user {self.index}")
            elif replay is not None:
                self.tally.replays_refused += 1
        self.cookie = None

    async def _write(self, key: str, j: int, born: float) -> Ack | bool | None:
        """The write's Ack, None if refused for now (503), False if the session is gone."""
        value = self.cycle * 100 + j
        response = await self.call("POST", "/write", body={"k": key, "v": value}, born=born)
        if response is None or response.status_code == 503:
            await asyncio.sleep(BACKOFF)
            return None
        if response.status_code != 200:
            return False
        now = time.monotonic()
        self.tally.acked += 1
        if self.outage.ready is not None and now > self.outage.ready:
            self.tally.acked_after_recovery += 1
        return Ack(key, value, now)

    async def _read(self, acks: list[Ack], born: float) -> bool:
        response = await self.call("GET", "/data", born=born)
        if response is None or response.status_code != 200:
            return False
        data = response.json()
        if any(data.get(a.key) != a.value for a in acks):
            self.tally.stale_reads += 1  # judged at the read-back, which decides
        return True

    async def _read_back(self, acks: list[Ack], born: float) -> None:
        response = await self.call("GET", "/data", born=born)
        if response is None:
            return
        end = time.monotonic()
        data = response.json() if response.status_code == 200 else {}
        for ack in acks:
            if data.get(ack.key) == ack.value:
                self.tally.verified += 1
                continue
            stop, ready = self.outage.stop, self.outage.ready
            if stop is not None and end >= stop and (ready is None or ack.at <= ready):
                self.tally.excused += 1  # it lived in the Redis that was stopped
            else:
                self.tally.lost += 1
                self.tally.fail("lost write", f"user {self.index} key {ack.key}")

    async def _tokens(self, user: str) -> None:
        issued = await self.call("POST", "/token/login", body={"user": user})
        if issued is None or issued.status_code != 200:
            return
        born = time.monotonic()
        self.tally.token_sessions += 1
        pair = issued.json()
        await self.call("GET", "/api/me", bearer=pair["access_token"], born=born)
        for _ in range(2):
            if self.stopping():
                break
            body = {"refresh_token": pair["refresh_token"]}
            fresh = await self.call("POST", "/token/refresh", body=body, cookie="", born=born)
            if fresh is None or fresh.status_code != 200:
                break
            self.tally.refreshes += 1
            pair = fresh.json()
            await self.call("GET", "/api/me", bearer=pair["access_token"], born=born)
        await self.call("POST", "/token/logout", bearer=pair["access_token"], born=born)
