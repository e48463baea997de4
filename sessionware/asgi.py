"""SessionMiddleware: the pure-ASGI adapter (Starlette, FastAPI, any ASGI app).

It reads the facts the engine needs from the scope, does the backend I/O on
the async face, puts the session at ``scope["session"]`` (so Starlette's
``request.session`` works unchanged) and adds headers to the app's own
``http.response.start``.  Bodies stream through untouched.  Websocket scopes
get a read-only session; lifespan and other scopes pass straight through.

``load="lazy"`` puts a :class:`~sessionware.lazy.LazySession` there instead,
read by ``await sessionware.load_session(request)`` (or the FastAPI
dependencies), so requests that never use the session cost no store call.

Faults (RS-05): a failed read makes the request anonymous (fail closed) and
raises ``backend_down``; a failed write replaces the app's response with a
short 503 before any of its body was sent.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

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
from .backends.memory import MemoryBackend
from .config import SessionConfig
from .defences.csrf import UNSAFE_METHODS
from .errors import BackendError, ConfigError, SessionDataTooLarge
from .facts import Begin, RequestFacts
from .lazy import Fresh, lazy_type, unloaded
from .records import APPLIED
from .scope import cookie_free, facts_from_scope
from .session import Session
from .ws_watch import watch

if TYPE_CHECKING:
    from .migration import Found
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


_VARY_ONLY = (("vary", "Cookie"),)


def _with_headers(message: Message, add: tuple[tuple[str, str], ...]) -> Message:
    """The app's start message plus ours; ``Vary`` merged into the app's own, never doubled."""
    own = message.get("headers", ())
    if add == _VARY_ONLY:  # a read adds only Vary, and most responses carry none of their own
        for k, _ in own:
            if k.lower() == b"vary":
                break
        else:
            return {**message, "headers": [*own, _VARY_COOKIE]}
    replace_cache = vary = False
    for name, _ in add:  # a loop, not two any(): this runs on every read
        if name == "vary":
            vary = True
        elif name == "cache-control":
            replace_cache = True
    headers: list[tuple[bytes, bytes]] = []
    for k, v in own:
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


def _inline(backend: Backend) -> bool:
    """True for a store whose async face only runs its sync one (the memory store).

    Calling the sync face directly saves two coroutines per call that can never
    wait; a subclass that overrides an async method keeps its own.
    """
    kind = type(backend)
    return (
        isinstance(backend, MemoryBackend)
        and kind.aload is MemoryBackend.aload
        and kind.aapply is MemoryBackend.aapply
    )


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
        load: Literal["eager", "lazy"] = "eager",
        **config_fields: Any,
    ) -> None:
        if load not in ("eager", "lazy"):
            raise ConfigError(f"load must be 'eager' or 'lazy', got {load!r}")
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
        #: ``load="lazy"``: the store is read by ``await sessionware.load_session(request)``.
        self.lazy = load == "lazy"
        self._inline = _inline(self.backend)
        #: The fast path applies: no legacy cookies to screen and no bearer tokens.
        self._plain = self.shared.legacy is None and self._bearer is None
        self._cookie_name = self.config.cookie_name.encode("latin-1")
        # The fast path's session class and loader, looked up once (the engine's
        # session class is fixed by then; only the WSGI Flask extension sets its own).
        self._fresh_type = lazy_type(self.engine.session_type)
        self._fresh = Fresh(self.config.max_data_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self.broken is not None:
            await _report_broken(self.broken, scope, receive, send)
            return
        if kind == "http":
            if self._plain and cookie_free(scope, self._cookie_name):
                # The fast path (issue #16): the engine would pass this request
                # without a look (no session cookie, nothing URL-borne, no
                # forwarding headers), so nothing is screened, resumed or built
                # until the app touches the session; an untouched one commits
                # nothing.  The facts are read at commit from the scope as it came.
                fresh = self._fresh.session(self._fresh_type)
                scope["session"] = fresh
                sender = _Sender(self, send, fresh, None, None, dict(scope))
                await self.app(scope, receive, sender)
                return
        elif kind != "websocket":
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
        websocket = kind == "websocket"
        session: Session
        if (
            self.lazy
            and not websocket
            and begin.key is not None
            and found is None
            and (shared.csrf is None or facts.method not in UNSAFE_METHODS)
        ):
            # load="lazy": read by load_session() (CSRF decisions need it now, so those load).
            lazy = lazy_type(engine.session_type)
            session = lazy(aloader=partial(self._resume, begin, facts, websocket))
        else:
            session = await self._resume(begin, facts, websocket)
            if (
                refusal := shared.forged(facts, session, websocket=websocket, legacy=found)
            ) is not None:
                await _refuse(send, refusal, websocket)
                return
            if found is not None and legacy is not None:
                session = await legacy.aadopt(found, session, shared.backend, engine.clock())
                await shared.areport(found.events)
        scope["session"] = session
        if websocket:
            if session.record is not None:  # a revoked session's socket closes (1008)
                receive = watch(receive, send, shared.backend, session.record.key, engine.clock)
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Sender(self, send, session, facts, found, None))

    async def _commit(self, message: Message, sender: _Sender) -> None:
        """Commit at the response's start, then send it (or the canned reply replacing it)."""
        shared, engine, legacy = self.shared, self.engine, self.shared.legacy
        session, found, send, facts = sender.session, sender.found, sender.send, sender.facts
        if facts is None:  # the fast path: built now, from the scope as the request came
            assert sender.scope is not None
            facts = facts_from_scope(sender.scope, shared.clients)
        if (refusal := shared.forged_login(facts, session)) is not None:
            sender.swallowed = True
            await _refuse(send, refusal)
            return
        try:
            commit = engine.commit(session, message["status"], facts)
        except SessionDataTooLarge as exc:
            log.error("session not saved: %s", exc)
            sender.swallowed = True
            await _reply(send, *TOO_LARGE, [])
            return
        result = APPLIED
        if commit.ops:
            commit = shared.admit(commit, facts)
            try:
                if self._inline:
                    result = shared.backend.apply(commit.ops, engine.clock())
                else:
                    result = await shared.backend.aapply(commit.ops, engine.clock())
            except BackendError as exc:
                sender.swallowed = True
                await shared.areport([store_event(exc, facts.client, shared.down(exc))])
                await _reply(send, *UNAVAILABLE, [(b"retry-after", b"2")])
                return
            if result.too_large:  # the store's own cap (concurrent writers)
                log.error("session not saved: the stored session would pass max_data_bytes")
                sender.swallowed = True
                await _reply(send, *TOO_LARGE, [])
                return
        if commit.ops or commit.events:
            headers, events = engine.finish(commit, result, facts)
            if events:
                await shared.areport(events)
        else:  # a read or an untouched session: finish() would add nothing
            headers = commit.headers
        if found is not None and legacy is not None:
            headers = legacy.with_headers(found, commit.sets_cookie, headers)
        await send(_with_headers(message, headers) if headers else message)

    async def _resume(self, begin: Begin, facts: RequestFacts, websocket: bool) -> Session:
        """The load and resume of this request: run at once (eager) or on demand (lazy)."""
        shared, record, unavailable, ending = self.shared, None, None, None
        if begin.key is not None:
            if self._inline:
                record, unavailable = shared.load(begin.key)
            else:
                record, unavailable = await shared.aload(begin.key)
            if record is None and not unavailable and shared.tombstones:
                ending = await shared.aending(begin.key)  # a dead cookie only
        session = self.engine.resume(
            begin,
            record,
            facts,
            read_only=websocket,
            unavailable=unavailable,
            ending=ending,
        )
        if session.pending_events:
            await shared.areport(session.pending_events, facts)
            session.pending_events.clear()
        return session


class _Sender:
    """The app's ``send`` for one request: commits at ``http.response.start``.

    One object per request instead of a closure and its cells.  A call
    returns ``send``'s own awaitable rather than being a coroutine of its
    own, so a body message costs one call, not two frames.  ``facts`` is
    None on the fast path: then they are built at commit, from ``scope`` as
    the request came (a shallow copy taken before the app ran).
    """

    __slots__ = ("facts", "found", "middleware", "scope", "send", "session", "swallowed")

    def __init__(
        self,
        middleware: SessionMiddleware,
        send: Send,
        session: Session,
        facts: RequestFacts | None,
        found: Found | None,
        scope: Scope | None,
    ) -> None:
        self.middleware = middleware
        self.send = send
        self.session = session
        self.facts = facts
        self.found = found
        self.scope = scope
        #: A canned reply replaced the app's response: drop the app's messages.
        self.swallowed = False

    def __call__(self, message: Message) -> Awaitable[None]:
        if self.swallowed:
            return _nothing()
        if message["type"] != "http.response.start" or unloaded(self.session):
            # A body, or a session never loaded, so never used or changed: nothing
            # to commit, nothing touched, and no Vary (the response does not
            # depend on the session).
            return self.send(message)
        return self.middleware._commit(message, self)


async def _nothing() -> None:
    """What ``send`` does once a canned reply replaced the app's response."""
