"""What the guard costs a good request: ``python -m benchmarks.guard_overhead``.

Both adapters, same process, same run: one middleware with every defence on
(guard, CSRF, binding "log") and one with them off (``guard=None``,
``csrf=False``, ``binding="off"``), plus one with only the guard off.  Each
round times N requests on each configuration in turn; the report is the
median over rounds of the per-request time, and the difference.  The ASGI
coroutine is driven with ``send(None)`` (the memory backend never suspends),
so no event-loop cost hides the difference.  Time is process CPU time, so
other load on a shared machine inflates it less than wall-clock would.

Realistic inputs: a browser's header set (h11's style of benchmark), a
logged-in session, requests that read it, anonymous requests without a
cookie, and same-origin POSTs.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sessionware import SessionMiddleware, WSGISessionMiddleware
from sessionware.core import Begin

_BEGIN = Begin(key="k", presented=True)

SECRET = "bench-secret-bench-secret-bench-secret-0123"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
BROWSER = [
    ("host", "example.com"),
    ("user-agent", UA),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.9"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("sec-fetch-site", "same-origin"),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-dest", "document"),
    ("sec-ch-ua", '"Chromium";v="126", "Google Chrome";v="126"'),
    ("sec-ch-ua-platform", '"macOS"'),
    ("upgrade-insecure-requests", "1"),
    ("referer", "https://example.com/"),
    ("priority", "u=0, i"),
]
ON: dict[str, Any] = {}
OFF: dict[str, Any] = {"guard": None, "csrf": False, "binding": "off"}
GUARD_OFF: dict[str, Any] = {"guard": None}


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = scope["session"]
    if scope["path"] == "/login":
        session.login("alice")
    else:
        session.get("user")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    session = environ["sessionware.session"]
    if environ["PATH_INFO"] == "/login":
        session.login("alice")
    else:
        session.get("user")
    start_response("200 OK", [])
    return [b"ok"]


def _noop_receive() -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _asend(message: dict[str, Any]) -> None:
    pass


def login_cookie(kind: str, fields: dict[str, Any]) -> tuple[Callable[..., None], str]:
    """A caller and a logged-in cookie for it (captured from the login's Set-Cookie)."""
    captured: list[str] = []
    if kind == "asgi":
        mw = SessionMiddleware(asgi_app, secret_keys=[SECRET], **fields)

        async def send(message: dict[str, Any]) -> None:
            for k, v in message.get("headers", ()):
                if k == b"set-cookie":
                    captured.append(v.decode().split(";")[0].split("=", 1)[1])

        scope = {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "path": "/login",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in BROWSER],
            "client": ("203.0.113.5", 50000),
        }
        with contextlib.suppress(StopIteration):
            mw(scope, _noop_receive(), send).send(None)
        caller = _bind_asgi(mw)
    else:
        wmw = WSGISessionMiddleware(wsgi_app, secret_keys=[SECRET], **fields)

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            for k, v in headers:
                if k.lower() == "set-cookie":
                    captured.append(v.split(";")[0].split("=", 1)[1])

        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/login",
            "QUERY_STRING": "",
            "REMOTE_ADDR": "203.0.113.5",
            "wsgi.url_scheme": "https",
            **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in BROWSER},
        }
        list(wmw(environ, start_response))
        caller = _bind_wsgi(wmw)
    return caller, captured[0]


def _bind_asgi(mw: Any) -> Callable[[str, str, str | None], None]:
    receive = _noop_receive()
    base = [(k.encode(), v.encode()) for k, v in BROWSER]

    def call(method: str, path: str, cookie: str | None) -> None:
        headers = list(base)
        if cookie:
            headers.append((b"cookie", f"__Host-session={cookie}; theme=dark".encode()))
        if method == "POST":
            headers.append((b"origin", b"https://example.com"))
        scope = {
            "type": "http",
            "method": method,
            "scheme": "https",
            "path": path,
            "query_string": b"",
            "headers": headers,
            "client": ("203.0.113.5", 50000),
        }
        try:
            mw(scope, receive, _asend).send(None)
        except StopIteration:
            return
        raise RuntimeError("the middleware suspended; this benchmark needs the memory backend")

    return call


def _bind_wsgi(mw: Any) -> Callable[[str, str, str | None], None]:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    base = {
        "QUERY_STRING": "",
        "REMOTE_ADDR": "203.0.113.5",
        "wsgi.url_scheme": "https",
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in BROWSER},
    }

    def call(method: str, path: str, cookie: str | None) -> None:
        environ = dict(base)
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = path
        if cookie:
            environ["HTTP_COOKIE"] = f"__Host-session={cookie}; theme=dark"
        if method == "POST":
            environ["HTTP_ORIGIN"] = "https://example.com"
        for _ in mw(environ, start_response):
            pass

    return call


def measure(rounds: int = 15, n: int = 3000) -> list[tuple[str, str, float, float, float]]:
    """``(adapter, case, on_us, off_us, guard_only_off_us)`` medians over ``rounds``."""
    rows = []
    for kind in ("asgi", "wsgi"):
        configs = [login_cookie(kind, f) for f in (ON, OFF, GUARD_OFF)]
        cases = [
            ("anonymous GET, no cookie", "GET", "/", False),
            ("logged-in GET (reads session)", "GET", "/", True),
            ("logged-in same-origin POST", "POST", "/", True),
        ]
        for label, method, path, with_cookie in cases:
            samples: list[list[float]] = [[], [], []]
            for _ in range(rounds):
                for i, (call, cookie) in enumerate(configs):
                    value = cookie if with_cookie else None
                    start = time.process_time()
                    for _ in range(n):
                        call(method, path, value)
                    samples[i].append((time.process_time() - start) / n * 1e6)
            on, off, guard_off = (statistics.median(s) for s in samples)
            rows.append((kind, label, on, off, guard_off))
    return rows


def components(repeat: int = 15, number: int = 100_000) -> list[tuple[str, float]]:
    """Each defence's cost on a good request in ns: the hook's time minus its "off" path.

    Best of ``repeat`` timeit runs each (the least disturbed run; medians swing
    on a shared machine); "off" is what the adapter does instead
    (nothing for the guard and CSRF hooks, a resume with ``binding="off"``).
    """
    import timeit

    from sessionware.core import RequestFacts
    from sessionware.records import Record
    from sessionware.session import Session

    mw = SessionMiddleware(asgi_app, secret_keys=[SECRET])
    unbound = SessionMiddleware(asgi_app, secret_keys=[SECRET], binding="off")
    shared = mw.shared
    guard = shared.guard
    assert guard is not None
    post = RequestFacts(
        method="POST",
        client="203.0.113.5",
        user_agent=UA,
        scheme="https",
        host="example.com",
        origin="https://example.com",
        sec_fetch_site="same-origin",
    )
    get = RequestFacts(method="GET", client="203.0.113.5", user_agent=UA)
    v6 = RequestFacts(client="2001:db8:1:2::5")
    fp = "203.0.113.0/24|Chrome on macOS"
    record = Record("k", "h", 0.0, 0.0, 1e12, 1e12, "alice", info={"fp": fp})
    session = Session(record)
    now = time.time()
    record.last_active = now

    def nothing() -> None:
        pass

    def blocked_get() -> object:
        return shared.blocked(get, _BEGIN)

    def blocked_v6() -> object:
        return shared.blocked(v6, _BEGIN)

    cases: list[tuple[str, Callable[[], object], Callable[[], object], bool]] = [
        ("guard: blocked(), nobody blocked", blocked_get, nothing, False),
        ("guard: blocked(), another IPv4 blocked", blocked_get, nothing, True),
        ("guard: blocked(), another IPv6 blocked", blocked_v6, nothing, True),
        ("csrf: forged() on a GET", lambda: shared.forged(get, session), nothing, False),
        (
            "csrf: forged() on a same-origin POST",
            lambda: shared.forged(post, session),
            nothing,
            False,
        ),
        (
            "binding: resume() log vs off",
            lambda: mw.engine.resume(_BEGIN, record, post),
            lambda: unbound.engine.resume(_BEGIN, record, post),
            False,
        ),
    ]
    rows = []
    for label, on, off, someone_blocked in cases:
        if someone_blocked:
            guard._blocked[1] = 1e18  # an IPv6 /64 key, never the measured client
        on_t = min(timeit.repeat(on, repeat=repeat, number=number))
        off_t = min(timeit.repeat(off, repeat=repeat, number=number))
        guard._blocked.clear()
        rows.append((label, (on_t - off_t) / number * 1e9))
    return rows


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    for label, ns in components():
        print(f"{label:45} {ns:6.0f} ns")
    head = ("adapter", "case", "all on", "all off", "delta", "guard off", "delta")
    print("{:7} {:32} {:>8} {:>8} {:>7} {:>9} {:>7}".format(*head))
    for kind, label, on, off, guard_off in measure(rounds):
        print(
            f"{kind:7} {label:32} {on:8.2f} {off:8.2f} {on - off:+7.2f} "
            f"{guard_off:9.2f} {on - guard_off:+7.2f}"
        )
    print("(microseconds per request, median of rounds; 'delta' = on minus off)")


if __name__ == "__main__":
    main()
