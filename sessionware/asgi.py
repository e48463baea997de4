"""SessionMiddleware: the pure-ASGI adapter (Starlette, FastAPI, any ASGI app).

It reads the facts the engine needs from the scope, does the backend I/O on
the async face, puts the session at ``scope["session"]`` (so Starlette's
``request.session`` works unchanged) and adds headers to the app's own
``http.response.start``.  Bodies stream through untouched.  Websocket scopes
get a read-only session; lifespan and other scopes pass straight through.

Faults (RS-05): a failed read makes the request anonymous (fail closed) and
raises ``backend_down``; a failed write replaces the app's response with a
short 503 before any of its body was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .adapters import BAD_REQUEST, TOO_LARGE, UNAVAILABLE, Shared, build
from .backends.base import Backend
from .config import SessionConfig
from .core import RequestFacts
from .errors import BackendError, SessionDataTooLarge
from .events import Event
from .records import APPLIED

if TYPE_CHECKING:
    from .token_transport import BearerGate
    from .tokens import TokenService

__all__ = ["SessionMiddleware"]

# The ASGI callable types spelled as Starlette spells them (MutableMapping, awaitables),
# so that ``SessionMiddleware(app)`` and ``app.add_middleware(SessionMiddleware, ...)``
# type-check for users of Starlette/FastAPI; with ``dict`` here mypy rejects both.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("sessionware")


def _facts(scope: Scope) -> RequestFacts:
    cookie: str | None = None
    agent = ""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            text = value.decode("latin-1")
            cookie = text if cookie is None else f"{cookie}; {text}"
        elif name == b"user-agent":
            agent = value.decode("latin-1")
    client = scope.get("client")
    return RequestFacts(
        method=scope.get("method", "GET"),
        path=scope.get("path", "/"),
        query=scope.get("query_string", b"").decode("latin-1"),
        cookie=cookie,
        client=client[0] if client else None,
        user_agent=agent,
    )


async def _reply(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_headers(message: Message, add: tuple[tuple[str, str], ...]) -> Message:
    replace_cache = any(name == "cache-control" for name, _ in add)
    headers = [
        (k, v)
        for k, v in message.get("headers", ())
        if not (replace_cache and k.lower() == b"cache-control")
    ]
    headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in add)
    return {**message, "headers": headers}


class SessionMiddleware:
    """Server-side sessions for an ASGI app.

    ``SessionMiddleware(app, secret_keys=[...])`` or
    ``SessionMiddleware(app, config=SessionConfig(...), backend=...)``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        *,
        config: SessionConfig | None = None,
        backend: Backend | None = None,
        clock: Callable[[], float] | None = None,
        tokens: TokenService | None = None,
        transport: str | None = None,
        **config_fields: Any,
    ) -> None:
        self.app = app
        self._shared: Shared = build(config, backend, clock, config_fields)
        self.config = self._shared.config
        self.backend = self._shared.backend
        self.engine = self._shared.engine
        self._bearer: BearerGate | None = None
        if tokens is not None or transport not in (None, "cookie"):  # token mode (tokens.md)
            from .token_transport import bearer_gate

            self._bearer = bearer_gate(tokens, transport, self._shared.report, self.config.on_event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        shared, engine = self._shared, self.engine
        facts = _facts(scope)
        legacy, found = shared.legacy, None
        if legacy is not None:
            facts, found = legacy.screen(facts)
        begin = engine.begin(facts)
        if begin.events:
            shared.report(begin.events)
        if begin.status is not None:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _reply(send, *BAD_REQUEST, [])
            return
        bearer = self._bearer  # token mode: a Bearer request never reaches the cookie path
        if bearer is not None and await bearer.serve_asgi(scope, receive, send, self.app):
            return
        record, unavailable = None, False
        if begin.key is not None:
            record, unavailable = await shared.aload(begin.key)
        session = engine.resume(
            begin, record, facts, read_only=kind == "websocket", unavailable=unavailable
        )
        if session._events:
            shared.report(session._events)
            session._events.clear()
        if found is not None and legacy is not None:
            await legacy.aadopt(found, session, shared.backend, engine.clock())
            shared.report(found.events)
        scope["session"] = session
        if kind == "websocket":
            await self.app(scope, receive, send)
            return

        swallow = False

        async def send_wrapper(message: Message) -> None:
            nonlocal swallow
            if swallow:
                return
            if message["type"] != "http.response.start":
                await send(message)
                return
            try:
                commit = engine.commit(session, message["status"], facts)
            except SessionDataTooLarge as exc:
                log.error("session not saved: %s", exc)
                swallow = True
                await _reply(send, *TOO_LARGE, [])
                return
            result = APPLIED
            if commit.ops:
                try:
                    result = await shared.backend.aapply(commit.ops, engine.clock())
                except BackendError as exc:
                    shared.report(
                        [Event("backend_down", facts.client, detail={"error": type(exc).__name__})]
                    )
                    swallow = True
                    await _reply(send, *UNAVAILABLE, [(b"retry-after", b"2")])
                    return
            headers, events = engine.finish(commit, result, facts)
            if events:
                shared.report(events)
            if found is not None and legacy is not None:
                headers = legacy.with_headers(found, commit.sets_cookie, headers)
            await send(_with_headers(message, headers) if headers else message)

        await self.app(scope, receive, send_wrapper)
