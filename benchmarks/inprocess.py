"""In-process timing: call the ASGI / WSGI callable directly, no network, no test client.

Each request gets a shallow copy of a scope (or environ) built once, with
realistic browser headers.  The clock runs around a tight loop of ``n``
requests (a *block*); a block's time divided by ``n`` is one sample.  Blocks
of every contender and case are interleaved round-robin, repeat after
repeat, so slow drift of a shared machine hits every contender alike; the
reported figure is the median sample.  The clock excludes the time the
benchmark thread sat runnable waiting for a CPU (``/proc/thread-self/schedstat``),
so other processes on a shared machine inflate the figures far less.
Before timing, each case is checked:
status 200, and ``/read`` with a credential must answer the seeded value
(otherwise we would be timing an error page).
"""

from __future__ import annotations

import asyncio
import gc
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .apps import READ_BODY
from .contenders import Built, Contender, Env, cookie_credential

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSER_HEADERS = (
    ("host", "app.example.test"),
    ("user-agent", UA),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.7"),
    ("accept-encoding", "gzip, deflate, br"),
)
#: Other cookies a real site carries next to the session cookie.
OTHER_COOKIES = "_ga=GA1.1.1849263510.1718000000; theme=dark"

#: case -> (path, sends the session credential)
CASES: dict[str, tuple[str, bool]] = {
    "read": ("/read", True),
    "write": ("/write", True),
    "none": ("/none", True),
    "read-anon": ("/read", False),
    "none-anon": ("/none", False),
    "create": ("/write", False),
}
#: The floor apps get a cookie of a session cookie's size so the request is the same size.
FLOOR_CREDENTIAL = ("cookie", "session=" + "f" * 87)
WRITES = frozenset({"write", "create"})
#: Kinds whose every request comes from a new visitor (its own address): each
#: creates a session, and one address creating thousands would rightly be
#: stopped by sessionware's flood guard (429) instead of measured.
NEW_VISITORS = frozenset({"create"})
CLIENT_MASK = 0xFFFF
WSGI_CLIENTS = [f"10.{i >> 8}.{i & 255}.7" for i in range(CLIENT_MASK + 1)]
ASGI_CLIENTS = [(address, 51000) for address in WSGI_CLIENTS]
QUICK_CASES = ("read", "write", "none", "read-anon", "none-anon")
FULL_CASES = tuple(CASES)


def _runqueue_ns() -> int:
    """Nanoseconds this thread has spent runnable but waiting for a CPU (Linux schedstat)."""
    with open("/proc/thread-self/schedstat", "rb") as stats:
        return int(stats.read().split()[1])


try:
    _runqueue_ns()
    HAS_SCHEDSTAT = True
except (OSError, ValueError, IndexError):
    HAS_SCHEDSTAT = False


def stamp() -> int:
    """A clock in ns that stops while this thread waits for a CPU.

    ``perf_counter_ns() - runqueue wait``: time spent running or blocked on
    I/O (a Redis reply) counts, time stolen by other processes on a shared
    machine does not.  Differences of two stamps are what the samples hold.
    Without schedstat (non-Linux) it is plain ``perf_counter_ns``.
    """
    if not HAS_SCHEDSTAT:
        return time.perf_counter_ns()
    waited = _runqueue_ns()
    for _ in range(5):
        now = time.perf_counter_ns()
        again = _runqueue_ns()
        if again == waited:  # not preempted between the two reads: a consistent pair
            break
        waited = again
    return now - waited


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class AsgiDriver:
    """Runs an ASGI app on one private event loop (async clients stay bound to it)."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.rotation = 0

    @staticmethod
    def template(path: str, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "https",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 51000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "state": {},
        }

    def call(self, template: dict[str, Any]) -> Reply:
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        self.loop.run_until_complete(self.app(dict(template), receive, send))
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        return Reply(start["status"], headers, body)

    def block(self, template: dict[str, Any], n: int, *, new_clients: bool = False) -> int:
        """Time ``n`` requests; ``new_clients`` gives each one its own client address."""
        app = self.app
        request = {"type": "http.request", "body": b"", "more_body": False}

        async def receive() -> dict[str, Any]:
            return request

        async def send(message: dict[str, Any]) -> None:
            pass

        async def run() -> int:
            copy = template.copy
            start = stamp()
            for _ in range(n):
                scope = copy()
                scope["state"] = {}
                await app(scope, receive, send)
            return stamp() - start

        async def run_rotating() -> int:
            copy, clients, first = template.copy, ASGI_CLIENTS, self.rotation
            start = stamp()
            for i in range(first, first + n):
                scope = copy()
                scope["state"] = {}
                scope["client"] = clients[i & CLIENT_MASK]
                await app(scope, receive, send)
            return stamp() - start

        if not new_clients:
            return self.loop.run_until_complete(run())
        spent = self.loop.run_until_complete(run_rotating())
        self.rotation += n
        return spent

    def block_cycle(self, templates: list[dict[str, Any]], n: int) -> int:
        """Like :meth:`block`, but request ``i`` uses ``templates[i % len(templates)]``."""
        app = self.app
        request = {"type": "http.request", "body": b"", "more_body": False}
        count = len(templates)

        async def receive() -> dict[str, Any]:
            return request

        async def send(message: dict[str, Any]) -> None:
            pass

        async def run() -> int:
            start = stamp()
            for i in range(n):
                scope = templates[i % count].copy()
                scope["state"] = {}
                await app(scope, receive, send)
            return stamp() - start

        return self.loop.run_until_complete(run())


class WsgiDriver:
    """Calls a WSGI app the way a server does: environ, start_response, iterate, close."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.app = app
        self.rotation = 0

    @staticmethod
    def template(path: str, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "app.example.test",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "51000",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in headers:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return environ

    def call(self, template: dict[str, Any]) -> Reply:
        captured: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured[:] = [status, headers]
            return lambda chunk: None

        result = self.app(dict(template), start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Reply(int(captured[0].split()[0]), list(captured[1]), body)

    def block(self, template: dict[str, Any], n: int, *, new_clients: bool = False) -> int:
        """Time ``n`` requests; ``new_clients`` gives each one its own client address."""
        app = self.app

        def write(chunk: bytes) -> None:
            pass

        def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            return write

        copy = template.copy
        if new_clients:
            first, clients = self.rotation, WSGI_CLIENTS
            self.rotation += n
            start = stamp()
            for i in range(first, first + n):
                environ = copy()
                environ["REMOTE_ADDR"] = clients[i & CLIENT_MASK]
                result = app(environ, start_response)
                for _chunk in result:
                    pass
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return stamp() - start
        start = stamp()
        for _ in range(n):
            result = app(copy(), start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return stamp() - start


@dataclass
class Prepared:
    """A contender built, seeded and ready: its driver and its credential header."""

    contender: Contender
    built: Built
    driver: AsgiDriver | WsgiDriver
    credential: tuple[str, str]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def template(self, case: str) -> dict[str, Any]:
        if case not in self.templates:
            path, with_credential = CASES[case]
            headers = list(BROWSER_HEADERS)
            name, value = self.credential
            if with_credential and name == "cookie":
                headers.append(("cookie", f"{OTHER_COOKIES}; {value}"))
            elif with_credential:
                headers.append((name, value))  # a bearer token: API clients send no cookies
            self.templates[case] = self.driver.template(path, headers)
        return self.templates[case]

    def cases(self, wanted: Iterable[str]) -> list[str]:
        """The cases of ``wanted`` this contender can serve (token sessions cannot write)."""
        if self.contender.read_only:
            return [c for c in wanted if c not in WRITES]
        return list(wanted)

    def block(self, case: str, n: int) -> int:
        """Time ``n`` requests of ``case`` (see the drivers' ``block``)."""
        return self.driver.block(self.template(case), n, new_clients=case in NEW_VISITORS)

    def check(self, case: str) -> None:
        """Fail loudly unless ``case`` answers 200 (and /read really read the session)."""
        reply = self.driver.call(self.template(case))
        if reply.status != 200:
            raise RuntimeError(f"{self.contender.name} {case}: status {reply.status}")
        if case == "read" and reply.body != READ_BODY:
            raise RuntimeError(f"{self.contender.name} read: got {reply.body!r}, not the session")


def prepare(contender: Contender, env: Env, loop: asyncio.AbstractEventLoop) -> Prepared:
    """Build ``contender``, seed one session through ``/seed``, and return it ready."""
    built = contender.factory(env)
    driver: AsgiDriver | WsgiDriver = (
        AsgiDriver(built.app, loop) if contender.protocol == "asgi" else WsgiDriver(built.app)
    )
    seed = driver.call(driver.template("/seed", BROWSER_HEADERS))
    if seed.status != 200:
        raise RuntimeError(f"{contender.name}: /seed answered {seed.status}")
    if contender.family == "floor":
        credential = FLOOR_CREDENTIAL  # same request bytes as a session cookie, never read
    else:
        credential = (built.credential or cookie_credential)(seed.headers, seed.body)
    return Prepared(contender, built, driver, credential)


def release(prepared: Prepared, loop: asyncio.AbstractEventLoop) -> None:
    """Close what the contender opened and drop what it stored."""
    if prepared.built.aclose is not None:
        loop.run_until_complete(prepared.built.aclose())
    if prepared.built.close is not None:
        prepared.built.close()


def calibrate(prepared: Prepared, case: str, block_s: float) -> int:
    """Warm ``case`` up for about ``block_s`` and return a block size that lasts about as long."""
    n = 8
    spent = prepared.block(case, n)
    deadline = time.perf_counter() + block_s
    while time.perf_counter() < deadline:
        spent = prepared.block(case, n)
        if spent < block_s * 1e9 / 4:
            n *= 2
    per_request = spent / n
    return max(20, int(block_s * 1e9 / max(per_request, 1.0)))


@dataclass
class Cell:
    """Samples of one contender on one case (µs per request)."""

    samples: list[float] = field(default_factory=list)
    n: int = 0
    #: Set when the contender stopped answering 200 during timing (figure unusable).
    problem: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def over(self, floor: Cell) -> tuple[float, float, float]:
        """Overhead over ``floor``: median and quartiles of the paired differences.

        Sample r of both cells ran back to back, so each difference compares
        two blocks that shared the machine's state; the median of those is
        steadier than the difference of the two medians.
        """
        diffs = sorted(a - b for a, b in zip(self.samples, floor.samples, strict=False))
        if len(diffs) < 4:
            middle = statistics.median(diffs)
            return middle, diffs[0], diffs[-1]
        q1, q2, q3 = statistics.quantiles(diffs, n=4)
        return q2, q1, q3


def measure(
    prepared: list[Prepared],
    cases: Iterable[str],
    *,
    repeats: int = 5,
    block_s: float = 0.03,
    tick: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Cell]]:
    """Median µs per request of every prepared contender on every case.

    :param repeats: samples per cell (the issue asks for at least 5).
    :param block_s: target duration of one block; also the warm-up per cell.
    :param tick: called once per finished unit of work (progress bar).
    """
    cases = list(cases)
    cells: dict[str, dict[str, Cell]] = {p.contender.name: {} for p in prepared}
    for p in prepared:
        for case in p.cases(cases):
            p.check(case)
            cells[p.contender.name][case] = Cell(n=calibrate(p, case, block_s))
            if tick:
                tick(f"warm {p.contender.name} {case}")
    for repeat in range(repeats):
        # Contenders run back to back on each case, in alternating order, so
        # sample r of a contender and sample r of the bare app are neighbours
        # in time: their difference (the overhead) cancels slow drift.
        order = prepared if repeat % 2 == 0 else prepared[::-1]
        for case in cases:
            for p in order:
                if case not in cells[p.contender.name]:
                    continue
                cell = cells[p.contender.name][case]
                gc.collect()
                spent = p.block(case, cell.n)
                cell.samples.append(spent / cell.n / 1000)
            if tick:
                tick(f"time {case} (repeat {repeat + 1})")
    for p in prepared:  # still answering properly after thousands of requests?
        for case in p.cases(cases):
            try:
                p.check(case)
            except RuntimeError as exc:
                cells[p.contender.name][case].problem = str(exc)
    return cells
