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

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .adapters import (
    BAD_REQUEST,
    TOO_LARGE,
    UNAVAILABLE,
    Refusal,
    Shared,
    build,
    merge_vary,
    store_event,
)
from .backends.base import Backend
from .config import SessionConfig
from .defences.client_address import ClientResolver
from .errors import BackendError, ConfigError, SessionDataTooLarge
from .facts import RequestFacts
from .records import APPLIED
from .ws_watch import watch

if TYPE_CHECKING:
    from .tokens.service import TokenService
    from .tokens.transport import BearerGate

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


#: Headers facts_from_scope keeps (one dict lookup per header; repeats are joined).
_WANTED = frozenset(
    {
        b"cookie",
        b"user-agent",
        b"host",
        b"origin",
        b"sec-fetch-site",
        b"x-forwarded-for",
        b"forwarded",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)


def facts_from_scope(scope: Scope, clients: ClientResolver) -> RequestFacts:
    seen: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if name in _WANTED:
            text = value.decode("latin-1")
            if name in seen:
                text = f"{seen[name]}{'; ' if name == b'cookie' else ', '}{text}"
            seen[name] = text
    client = scope.get("client")
    peer = client[0] if client else None
    scheme = scope.get("scheme", "http")
    host = seen.get(b"host", "")
    if clients.active and peer is not None and clients.trusted(peer):
        peer_client, scheme, host = clients.resolve(
            peer,
            scheme,
            host,
            seen.get(b"x-forwarded-for"),
            seen.get(b"forwarded"),
            seen.get(b"x-forwarded-proto"),
            seen.get(b"x-forwarded-host"),
        )
    else:
        peer_client = peer
        if not clients.warned and (b"x-forwarded-for" in seen or b"forwarded" in seen):
            clients.untrusted(peer)
    return RequestFacts(
        method=scope.get("method", "GET"),
        path=scope.get("path", "/"),
        query=scope.get("query_string", b"").decode("latin-1"),
        cookie=seen.get(b"cookie"),
        client=peer_client,
        user_agent=seen.get(b"user-agent", ""),
        peer=peer,
        scheme=scheme,
        host=host,
        origin=seen.get(b"origin"),
        sec_fetch_site=seen.get(b"sec-fetch-site"),
    )


async def _refuse(send: Send, refusal: Refusal, websocket: bool = False) -> None:
    if websocket:
        await send({"type": "websocket.close", "code": 1008})
        return
    extra = [] if refusal.retry_after is None else [(b"retry-after", b"%d" % refusal.retry_after)]
    extra += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers]
    await _reply(send, refusal.status, refusal.body, extra)


async def _reply(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _built_lazily() -> bool:
    """True when Starlette's ``build_middleware_stack`` is constructing this middleware."""
    here = inspect.currentframe()
    frame = here.f_back.f_back if here is not None and here.f_back is not None else None
    for _ in range(4):  # our __init__, a subclass's __init__ or two, then Starlette
        if frame is None:
            return False
        module = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "build_middleware_stack" and module.startswith(
            ("starlette.", "fastapi.")
        ):
            return True
        frame = frame.f_back
    return False


async def _report_broken(message: str, scope: Scope, receive: Receive, send: Send) -> None:
    """A misconfigured middleware: fail the lifespan startup; answer requests 500.

    ``lifespan.startup.failed`` makes uvicorn log the message and exit, in
    every lifespan mode.  If the server runs without lifespan, each request
    gets a short 500 and one log line carrying the message (no traceback).
    """
    text = f"sessionware SessionMiddleware is misconfigured: {message}"
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": text})
                return
            if event["type"] == "lifespan.shutdown":  # pragma: no cover - never started
                await send({"type": "lifespan.shutdown.complete"})
                return
    log.error("%s", text)
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1011})
        return
    await _reply(send, 500, b"Internal error: session middleware misconfigured.\n", [])


_VARY_COOKIE = (b"vary", b"Cookie")


def _with_headers(message: Message, add: tuple[tuple[str, str], ...]) -> Message:
    replace_cache = any(name == "cache-control" for name, _ in add)
    vary = any(name == "vary" for name, _ in add)
    headers: list[tuple[bytes, bytes]] = []
    for k, v in message.get("headers", ()):
        lower = k.lower()
        if vary and lower == b"vary":
            # Merged into the app's own Vary, never a second header (RFC 9110 §12.5.5).
            v = merge_vary(v.decode("latin-1")).encode("latin-1")
            vary = False
        elif replace_cache and lower == b"cache-control":
            continue
        headers.append((k, v))
    for k, v in add:
        if k == "vary":
            if vary:
                headers.append(_VARY_COOKIE)
        else:
            headers.append((k.encode("latin-1"), v.encode("latin-1")))
    return {**message, "headers": headers}


class SessionMiddleware:
    """Server-side sessions for an ASGI app.

    ``SessionMiddleware(app, secret_keys=[...])`` or
    ``SessionMiddleware(app, config=SessionConfig(...), backend=...)``;
    Starlette's keywords (and its positional secret, ``SessionMiddleware(app,
    SECRET)``) select the Starlette profile (:mod:`sessionware.keywords`).

    A :class:`~sessionware.errors.ConfigError` is *raised* here when your code
    builds the middleware.  When Starlette builds it lazily
    (``app.add_middleware``, inside its first ASGI call) it is *reported*
    instead: the lifespan startup fails with the message, and without
    lifespan every request is a 500 with one log line (no traceback).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: Any = None,
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
        #: A config error deferred because Starlette built us lazily (see _report_broken).
        self.broken: str | None = None
        if secret_key is not None:  # Starlette's positional secret: SessionMiddleware(app, KEY)
            if "secret_key" in config_fields:
                raise ConfigError("the secret was given both positionally and as secret_key=")
            config_fields["secret_key"] = secret_key
        try:
            self.shared: Shared = build(config, backend, clock, config_fields)
        except ConfigError as exc:
            if not _built_lazily():
                raise
            # Under app.add_middleware Starlette builds us inside its first ASGI call
            # (the lifespan), where uvicorn's default lifespan="auto" swallows an
            # exception: report it by failing the startup instead (see __call__).
            self.broken = str(exc)
            return
        self.config = self.shared.config
        self.backend = self.shared.backend
        self.engine = self.shared.engine
        self._bearer: BearerGate | None = self.shared.bearer(tokens, transport)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self.broken is not None:
            await _report_broken(self.broken, scope, receive, send)
            return
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        shared, engine = self.shared, self.engine
        facts = facts_from_scope(scope, shared.clients)
        legacy, found = shared.legacy, None
        if legacy is not None:
            facts, found = legacy.screen(facts)
        begin = engine.begin(facts)
        if begin.events:
            await shared.areport(begin.events, facts)
            if (refusal := shared.blocked(facts, begin)) is not None:
                await _refuse(send, refusal, kind == "websocket")
                return
        if begin.status is not None:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _reply(send, *BAD_REQUEST, [])
            return
        bearer = self._bearer  # token mode: a Bearer request never reaches the cookie path
        if bearer is not None and await bearer.serve_asgi(
            scope, receive, send, self.app, facts.client
        ):
            return
        record, unavailable, ending = None, None, None
        if begin.key is not None:
            record, unavailable = await shared.aload(begin.key)
            if record is None and not unavailable and shared.tombstones:
                ending = await shared.aending(begin.key)  # a dead cookie only
        session = engine.resume(
            begin,
            record,
            facts,
            read_only=kind == "websocket",
            unavailable=unavailable,
            ending=ending,
        )
        if session.pending_events:
            await shared.areport(session.pending_events, facts)
            session.pending_events.clear()
        websocket = kind == "websocket"
        if (
            refusal := shared.forged(facts, session, websocket=websocket, legacy=found)
        ) is not None:
            await _refuse(send, refusal, websocket)
            return
        if found is not None and legacy is not None:
            session = await legacy.aadopt(found, session, shared.backend, engine.clock())
            await shared.areport(found.events)
        scope["session"] = session
        if kind == "websocket":
            if session.record is not None:  # a revoked session's socket closes (1008)
                receive = watch(receive, send, shared.backend, session.record.key, engine.clock)
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
            if (refusal := shared.forged_login(facts, session)) is not None:
                swallow = True
                await _refuse(send, refusal)
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
                commit = shared.admit(commit, facts)
                try:
                    result = await shared.backend.aapply(commit.ops, engine.clock())
                except BackendError as exc:
                    await shared.areport([store_event(exc, facts.client, shared.down(exc))])
                    swallow = True
                    await _reply(send, *UNAVAILABLE, [(b"retry-after", b"2")])
                    return
                if result.too_large:  # the store's own cap (concurrent writers)
                    log.error("session not saved: the stored session would pass max_data_bytes")
                    swallow = True
                    await _reply(send, *TOO_LARGE, [])
                    return
            headers, events = engine.finish(commit, result, facts)
            if events:
                await shared.areport(events)
            if found is not None and legacy is not None:
                headers = legacy.with_headers(found, commit.sets_cookie, headers)
            await send(_with_headers(message, headers) if headers else message)

        await self.app(scope, receive, send_wrapper)
