"""``sessionware bench``: what sessionware costs per request on *this* machine and store.

The repository's ``benchmarks/`` compare sessionware with its peers; this
module answers the user's own question instead: with my backend URL, on my
hardware, how many microseconds does the session layer add to a request
that reads its session, one that writes it, and one that carries a cookie
but never touches it?  It needs nothing beyond the package and the store's
extra, so it runs from an installed wheel.

How it measures, so that the numbers are ratios and not noise: each case
drives the same tiny app twice in process, bare and wrapped by the
middleware, in alternating rounds of ``batch`` requests; the overhead is
the median over rounds of (wrapped - bare), and the bare app's own time is
shown beside it.  Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, TextIO

from ..asgi import SessionMiddleware
from ..backends.base import Backend
from ..wsgi import ENVIRON_KEY, WSGISessionMiddleware

__all__ = ["CASES", "Result", "format_table", "plot", "run"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
#: What each request does with its session, by the path it asks for.
CASES = ("read", "write", "untouched")
_SECRET = "sessionware-bench-" + "x" * 32
_HEADERS = [(b"content-type", b"text/plain")]


@dataclass(frozen=True, slots=True)
class Result:
    """One case on one face: the bare app's time and what the middleware adds (µs)."""

    face: str
    case: str
    bare_us: float
    overhead_us: float
    quartiles: tuple[float, float]

    @property
    def ratio(self) -> float:
        """Wrapped over bare time (1.0 means free)."""
        return (self.bare_us + self.overhead_us) / self.bare_us if self.bare_us else 0.0


async def _asgi_app(scope: Scope, receive: Any, send: Any) -> None:
    path = scope["path"]
    if "session" not in scope:
        pass  # the bare run: the same app, no session layer
    elif path == "/write":
        session = scope["session"]
        session["n"] = session.get("n", 0) + 1
    elif path == "/read":
        scope["session"].get("n")
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if ENVIRON_KEY not in environ:
        pass
    elif path == "/write":
        session = environ[ENVIRON_KEY]
        session["n"] = session.get("n", 0) + 1
    elif path == "/read":
        environ[ENVIRON_KEY].get("n")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class _ASGIDriver:
    """Calls an ASGI app in process; remembers the session cookie like a browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cookie = b""

    async def get(self, path: str) -> None:
        headers = [(b"host", b"bench.local"), (b"user-agent", b"sessionware-bench")]
        if self.cookie:
            headers.append((b"cookie", self.cookie))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "https", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("bench.local", 443),
        }  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = sent[0]
        if start["status"] != 200:
            raise RuntimeError(f"GET {path} answered {start['status']}: is the store reachable?")
        for name, value in start["headers"]:
            if name == b"set-cookie" and b"Max-Age=0" not in value:
                self.cookie = value.split(b";", 1)[0]

    async def batch(self, path: str, n: int) -> None:
        for _ in range(n):
            await self.get(path)


class _WSGIDriver:
    """Calls a WSGI app in process, the same way."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.cookie = ""

    def get(self, path: str) -> None:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "bench.local", "SERVER_PORT": "443", "HTTP_HOST": "bench.local",
            "wsgi.url_scheme": "https", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": "sessionware-bench",
        }  # fmt: skip
        if self.cookie:
            environ["HTTP_COOKIE"] = self.cookie
        status: list[str] = []
        headers: list[tuple[str, str]] = []

        def start_response(code: str, hdrs: list[tuple[str, str]], exc: Any = None) -> None:
            status.append(code)
            headers.extend(hdrs)

        body = self.app(environ, start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        if not status[0].startswith("200"):
            raise RuntimeError(f"GET {path} answered {status[0]}: is the store reachable?")
        for name, value in headers:
            if name.lower() == "set-cookie" and "Max-Age=0" not in value:
                self.cookie = value.split(";", 1)[0]

    def batch(self, path: str, n: int) -> None:
        for _ in range(n):
            self.get(path)


def _summarise(face: str, case: str, bare: list[float], wrapped: list[float]) -> Result:
    diffs = sorted(w - b for w, b in zip(wrapped, bare, strict=True))
    q = statistics.quantiles(diffs, n=4) if len(diffs) > 1 else [diffs[0]] * 3
    return Result(face, case, statistics.median(bare), statistics.median(diffs), (q[0], q[2]))


def run(
    backend: Backend,
    *,
    faces: tuple[str, ...] = ("asgi", "wsgi"),
    rounds: int = 30,
    batch: int = 100,
    progress: TextIO | None = sys.stderr,
) -> list[Result]:
    """Measure every case on every face against ``backend``; returns the results."""
    total = len(faces) * len(CASES) * rounds
    done = 0
    results: list[Result] = []

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            filled = done * 30 // total
            progress.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} rounds")
            if done == total:
                progress.write("\n")
            progress.flush()

    options: dict[str, Any] = {"secret_keys": [_SECRET], "backend": backend, "guard": None}
    for face in faces:
        if face == "asgi":
            results += _asgi_results(options, rounds, batch, tick)
        else:
            bare_w = _WSGIDriver(_wsgi_app)
            wrapped_w = _WSGIDriver(WSGISessionMiddleware(_wsgi_app, **options))
            wrapped_w.get("/write")  # the session every case then presents
            results += _measure("wsgi", bare_w.batch, wrapped_w.batch, rounds, batch, tick)
    return results


def _asgi_results(
    options: dict[str, Any], rounds: int, batch: int, tick: Callable[[], None]
) -> list[Result]:
    """The ASGI face, each batch one coroutine run on a loop that lives for the whole run."""
    loop = asyncio.new_event_loop()
    try:
        bare = _ASGIDriver(_asgi_app)
        wrapped = _ASGIDriver(SessionMiddleware(_asgi_app, **options))
        loop.run_until_complete(wrapped.get("/write"))

        def bare_batch(path: str, n: int) -> None:
            loop.run_until_complete(bare.batch(path, n))

        def wrapped_batch(path: str, n: int) -> None:
            loop.run_until_complete(wrapped.batch(path, n))

        return _measure("asgi", bare_batch, wrapped_batch, rounds, batch, tick)
    finally:
        loop.close()


Batch = Callable[[str, int], None]


def _measure(
    face: str, bare: Batch, wrapped: Batch, rounds: int, batch: int, tick: Callable[[], None]
) -> list[Result]:
    """Alternate bare and wrapped batches per round (order flipped each round), per case."""
    out = []
    for case in CASES:
        path = f"/{case}"
        times: dict[str, list[float]] = {"bare": [], "wrapped": []}
        for i in range(rounds):
            pair = (("bare", bare), ("wrapped", wrapped))
            for name, run_batch in pair if i % 2 == 0 else pair[::-1]:
                start = time.perf_counter()
                run_batch(path, batch)
                times[name].append((time.perf_counter() - start) / batch * 1e6)
            tick()
        out.append(_summarise(face, case, times["bare"], times["wrapped"]))
    return out


def format_table(results: list[Result], backend_name: str) -> str:
    """The summary the command prints: one row per face and case."""
    lines = [
        f"sessionware overhead per request on {backend_name} (µs, median of paired rounds)",
        f"{'face':<6}{'case':<11}{'bare app':>10}{'+ session':>11}{'quartiles':>19}{'ratio':>8}",
    ]
    for r in results:
        quart = f"{r.quartiles[0]:.1f} .. {r.quartiles[1]:.1f}"
        lines.append(
            f"{r.face:<6}{r.case:<11}{r.bare_us:>10.1f}{r.overhead_us:>+11.1f}"
            f"{quart:>19}{r.ratio:>7.2f}x"
        )
    return "\n".join(lines)


def plot(results: list[Result], path: str, backend_name: str) -> None:
    """A bar chart of the overheads (needs matplotlib: ``pip install matplotlib``)."""
    import matplotlib  # type: ignore[import-not-found,unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    labels = [f"{r.face}\n{r.case}" for r in results]
    fig, ax = plt.subplots(figsize=(max(6, len(results)), 4))
    ax.bar(labels, [r.overhead_us for r in results], color="#3b6ea5")
    ax.set_ylabel("µs added per request")
    ax.set_title(f"sessionware on {backend_name}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
