"""What a session costs over loopback Redis: per backend call and per ASGI request.

Run: ``PYTHONPATH=. python benchmarks/bench_redis.py`` (starts a private
``redis-server`` on a free port and stops it by PID; pass a URL to use an
existing server instead, then the server column is left out).

Part 1 times RedisBackend calls on both faces.  Part 2 drives ASGI apps
in-process (no HTTP server): a bare app, sessionware's SessionMiddleware and
starsessions' SessionMiddleware with its RedisStore, each reading an existing
session and writing one key.  Three numbers per row, because on a shared
machine wall time is noisy:

* ``wall``: best of 7 runs of ``N`` calls (the least disturbed run);
* ``cpu``: this process's CPU time per call (client work: ours + redis-py);
* ``server``: Redis's own time per call, from ``INFO commandstats``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sessionware import SessionMiddleware
from sessionware.backends import RedisBackend
from sessionware.records import Create, Patch, Record

N = 1000
RUNS = 7
SECRET = "bench-secret-0123456789-0123456789-abcdef"
TOP_LEVEL = ("cmdstat_hgetall", "cmdstat_evalsha", "cmdstat_eval", "cmdstat_get",
             "cmdstat_set", "cmdstat_setex", "cmdstat_ping")  # fmt: skip


class Meter:
    def __init__(self, url: str, private: bool) -> None:
        self.stats = redis.Redis.from_url(url, decode_responses=True) if private else None

    def _usec(self) -> float:
        if self.stats is None:
            return 0.0
        info = self.stats.info("commandstats")
        return sum(float(info[name]["usec"]) for name in TOP_LEVEL if name in info)

    def measure(self, run: Callable[[], object]) -> tuple[float, float, float]:
        walls = []
        usec, cpu = self._usec(), time.process_time()
        for _ in range(RUNS):
            start = time.perf_counter()
            run()
            walls.append((time.perf_counter() - start) / N * 1e6)
        calls = N * RUNS
        cpu = (time.process_time() - cpu) / calls * 1e6
        return min(walls), cpu, (self._usec() - usec) / calls

    def ameasure(
        self, loop: asyncio.AbstractEventLoop, run: Callable[[], Awaitable[None]]
    ) -> tuple[float, float, float]:
        return self.measure(lambda: loop.run_until_complete(run()))


def show(title: str, rows: dict[str, tuple[float, float, float]], private: bool) -> None:
    print(f"\n{title}")
    print(f"{'':<34}{'wall':>8}{'cpu':>8}{'server' if private else '':>8}")
    for name, (wall, cpu, server) in rows.items():
        print(f"{name:<34}{wall:>8.1f}{cpu:>8.1f}{(f'{server:.1f}' if private else ''):>8}")


def record(now: float, key: str) -> Record:
    data = {"cart": "[1,2,3]", "theme": '"dark"', "csrf": '"x5Yk2r0bcd"'}
    return Record(key, uuid.uuid4().hex, now, now, now + 1800, now + 43200, "user-42", now,
                  data=data, info={"ip": "203.0.113.9", "agent": "Firefox 128"})  # fmt: skip


def backend_calls(url: str, prefix: str, meter: Meter, private: bool) -> None:
    backend = RedisBackend(url, prefix=prefix)
    now = time.time()
    rec = record(now, "bench-" + uuid.uuid4().hex)
    backend.apply([Create(rec)], now)
    patch = [Patch(rec.key, set={"cart": "[1,2,3,4]"}, meta={"last_active": now})]
    touch = [Patch(rec.key, meta={"last_active": now, "expires_at": now + 1800})]
    raw = backend._sync_client()
    loop = asyncio.new_event_loop()

    def repeat(call: Callable[[], object]) -> Callable[[], None]:
        return lambda: [call() for _ in range(N)] and None

    def arepeat(call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for _ in range(N):
                await call()

        return run

    loop.run_until_complete(backend.aload(rec.key, now))
    rows = {
        "sync  redis-py PING (baseline)": meter.measure(repeat(raw.ping)),
        "sync  load (existing session)": meter.measure(repeat(lambda: backend.load(rec.key, now))),
        "sync  apply: patch one key": meter.measure(repeat(lambda: backend.apply(patch, now))),
        "sync  apply: touch": meter.measure(repeat(lambda: backend.apply(touch, now))),
        "sync  apply: create": meter.measure(
            repeat(lambda: backend.apply([Create(record(now, uuid.uuid4().hex))], now))
        ),
        "async redis-py PING (baseline)": meter.ameasure(
            loop, arepeat(lambda: backend._async_client().ping())
        ),
        "async load (existing session)": meter.ameasure(
            loop, arepeat(lambda: backend.aload(rec.key, now))
        ),
        "async apply: patch one key": meter.ameasure(
            loop, arepeat(lambda: backend.aapply(patch, now))
        ),
    }
    loop.run_until_complete(backend.aclose())
    loop.close()
    backend.close()
    show(f"RedisBackend, us per call ({N} x {RUNS})", rows, private)


def app() -> Starlette:
    async def read(request: Request) -> PlainTextResponse:
        if "session" not in request.scope:
            return PlainTextResponse("")
        return PlainTextResponse(str(request.session.get("cart")))

    async def write(request: Request) -> PlainTextResponse:
        if "session" in request.scope:
            request.session["n"] = time.perf_counter_ns()
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/read", read), Route("/write", write)])


async def call(asgi: Any, path: str, cookie: str | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", b"testserver")] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
             "server": ("testserver", 443)}  # fmt: skip
    out: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out.update(message)

    await asgi(scope, receive, send)
    assert out["status"] == 200, out
    return list(out["headers"])


def session_cookie(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"set-cookie":
            return value.decode().split(";", 1)[0]
    raise AssertionError("no session cookie")


def requests(url: str, prefix: str, meter: Meter, private: bool) -> None:
    from starsessions import SessionAutoloadMiddleware
    from starsessions import SessionMiddleware as StarSessions
    from starsessions.stores.redis import RedisStore

    loop = asyncio.new_event_loop()
    ours = SessionMiddleware(app(), secret_keys=[SECRET], backend=RedisBackend(url, prefix=prefix))
    theirs = StarSessions(SessionAutoloadMiddleware(app()), store=RedisStore(url, prefix=prefix),
                          lifetime=1800, cookie_https_only=True)  # fmt: skip
    rows = {}
    for name, asgi in {"bare app": app(), "sessionware": ours, "starsessions": theirs}.items():
        cookie = None
        if name != "bare app":
            cookie = session_cookie(loop.run_until_complete(call(asgi, "/write", None)))
        for path in ("/read", "/write"):

            async def run(asgi: Any = asgi, path: str = path, cookie: str | None = cookie) -> None:
                for _ in range(N):
                    await call(asgi, path, cookie)

            loop.run_until_complete(run())  # warm-up
            rows[f"{name:<13} {path[1:]}"] = meter.ameasure(loop, run)
    loop.run_until_complete(ours.backend.aclose())
    loop.close()
    show(f"ASGI request in-process, us per request ({N} x {RUNS})", rows, private)


def start_private() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server not found: pass a Redis URL"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return proc, url


def main() -> None:
    private = len(sys.argv) < 2
    proc, url = start_private() if private else (None, sys.argv[1])
    prefix = f"swbench:{uuid.uuid4().hex}:"
    meter = Meter(url, private)
    try:
        print(f"Redis: {url}; redis-py {redis.__version__}")
        backend_calls(url, prefix, meter, private)
        requests(url, prefix, meter, private)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        else:
            client = redis.Redis.from_url(url)
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
            client.close()


if __name__ == "__main__":
    main()
