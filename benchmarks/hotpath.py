"""Where sessionware's per-request time goes: ``python -m benchmarks.hotpath``.

Times each step of the ASGI middleware's read path on its own (same
request, same stored session as the main benchmark), with the clock that
skips time spent waiting for a CPU, and prints them next to the whole
middleware around a raw ASGI app.  The steps do not add up exactly to the
whole (call overhead, coroutine frames, allocation), and the difference is
shown as "glue".  Use it before and after a change to the hot path.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from .contenders import SECRET, Env, by_name
from .inprocess import prepare, stamp


def _time(fn: Callable[[], Any], n: int = 20000, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = stamp()
        for _ in range(n):
            fn()
        samples.append((stamp() - start) / n / 1000)
    return statistics.median(samples)


def _atime(
    loop: asyncio.AbstractEventLoop, app: Any, scope: dict[str, Any], n: int = 20000
) -> float:
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run() -> float:
        samples = []
        for _ in range(7):
            start = stamp()
            for _ in range(n):
                await app(scope.copy(), receive, send)
            samples.append((stamp() - start) / n / 1000)
        return statistics.median(samples)

    return loop.run_until_complete(run())


_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")


class Essential:
    """The read path's irreducible work, as a yardstick (not a usable middleware).

    Find the cookie, check its shape, verify its HMAC, hash the ID to the
    storage key, load, build the Session, add ``Vary: Cookie``.  No events,
    no expiry, no URL screening, no commit logic: what is left when every
    decision is free.  It borrows the engine's precomputed keys.
    """

    def __init__(self, app: Any, engine: Any, backend: Any) -> None:
        self.app, self.backend = app, backend
        self.name = engine.config.cookie_name
        self.sign, self.store = engine.ids._signers[0], engine.ids._stores[0]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from sessionware.session import Session

        cookie = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                cookie = value.decode("latin-1")
        record = None
        if cookie and self.name in cookie:
            for part in cookie.split(";"):
                name, _, value = part.strip().partition("=")
                if name == self.name and _SHAPE.fullmatch(value):
                    raw = value[:43].encode()
                    inner, outer = self.sign[0].copy(), self.sign[1].copy()
                    inner.update(raw)
                    outer.update(inner.digest())
                    expected = base64.urlsafe_b64encode(outer.digest())[:43]
                    if hmac.compare_digest(expected, value[44:].encode()):
                        store = self.store.copy()
                        store.update(raw)
                        record = await self.backend.aload(store.hexdigest(), time.time())
        session = Session(record)
        scope["session"] = session

        async def wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and (session.accessed or record):
                headers = [*message.get("headers", ()), (b"vary", b"Cookie")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, wrapper)


def breakdown() -> list[tuple[str, float]]:
    """(step, µs) for the ASGI read of an existing memory-backed session."""
    from sessionware import SessionMiddleware
    from sessionware.asgi import _with_headers
    from sessionware.asgi import facts_from_scope as _facts
    from sessionware.cookies import read_session_cookies

    loop = asyncio.new_event_loop()
    prepared = prepare(by_name("sessionware-memory"), Env(), loop)
    middleware = prepared.built.app
    engine, backend = middleware.engine, middleware.backend
    scope = prepared.template("read")
    clients = middleware.shared.clients
    facts = _facts(scope, clients)
    begin = engine.begin(facts)
    assert begin.key is not None
    record = backend.load(begin.key, time.time())
    header = facts.cookie or ""
    name = engine.config.cookie_name
    value = read_session_cookies(header, name)[0]
    start_message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", b"5"), (b"content-type", b"text/plain; charset=utf-8")],
    }

    def resume_and_read() -> None:
        session = engine.resume(begin, record, facts)
        session.get("user")

    session = engine.resume(begin, record, facts)
    session.get("user")

    async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["session"].get("user") if "session" in scope else None
        await send(start_message)
        await send({"type": "http.response.body", "body": b"alice"})

    wrapped = SessionMiddleware(raw, secret_keys=[SECRET], backend=backend)
    steps = [
        ("facts from scope", _time(lambda: _facts(scope, clients))),
        ("  read cookie header", _time(lambda: read_session_cookies(header, name))),
        ("  verify signature (unsign)", _time(lambda: engine.ids.unsign(value))),
        ("  storage key (keyed hash)", _time(lambda: engine.ids.storage_key(value[:43]))),
        # The engine remembers a verified value, so this is the returning-session cost:
        # the signature and the keyed hash above run once per value, not per request.
        ("engine.begin (value remembered)", _time(lambda: engine.begin(facts))),
        ("backend.load", _time(lambda: backend.load(begin.key, time.time()))),
        ("engine.resume + session.get", _time(resume_and_read)),
        ("engine.commit (read, nothing due)", _time(lambda: engine.commit(session, 200, facts))),
        ("add Vary header", _time(lambda: _with_headers(start_message, (("vary", "Cookie"),)))),
    ]
    essential = Essential(raw, engine, backend)
    bare, whole, least = [], [], []
    for _ in range(3):  # interleaved, so the three share the machine's mood
        bare.append(_atime(loop, raw, scope, 5000))
        whole.append(_atime(loop, wrapped, scope, 5000))
        least.append(_atime(loop, essential, scope, 5000))
    b, w, e = (statistics.median(x) for x in (bare, whole, least))
    parts = sum(us for name, us in steps if not name.startswith(" "))  # begin skips its parts
    steps += [
        ("raw ASGI app alone", b),
        ("middleware around it", w),
        ("=> middleware overhead", w - b),
        ("   glue (overhead - steps)", w - b - parts),
        ("essential work only (yardstick)", e - b),
    ]
    loop.close()
    return steps


def main() -> None:
    for name, us in breakdown():
        sys.stdout.write(f"{name:36} {us:7.2f} us\n")


if __name__ == "__main__":
    main()
