"""What the ASGI and WSGI adapters share: construction, reporting, canned replies.

The guard hooks live here too, so each adapter calls them in a line or two:
:meth:`Shared.blocked` before the engine runs, :meth:`Shared.forged` once
the session is known, :meth:`Shared.flooded` before a commit's ops are
applied, and :meth:`Shared.report` (which feeds every bad event to the
guard) wherever events come out.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from .backends.base import Backend
from .backends.memory import MemoryBackend
from .config import SessionConfig
from .core import Commit, Engine, RequestFacts
from .defences.client_address import ClientResolver
from .defences.csrf import UNSAFE_METHODS, CsrfPolicy
from .defences.guard import Guard
from .errors import BackendError, ConfigError
from .events import Event, EventSink, down_detail, emit
from .records import Create, Record, Touch
from .session import Session

if TYPE_CHECKING:
    from .migration import Found, Migrator
    from .tokens.service import TokenService
    from .tokens.transport import BearerGate

__all__ = ["Refusal", "Shared", "build"]

log = logging.getLogger("sessionware")

BAD_REQUEST = (400, b"Bad request: session IDs are accepted only in the session cookie.\n")
UNAVAILABLE = (503, b"Session store unavailable; please retry shortly.\n")
TOO_LARGE = (500, b"Internal error: session data too large.\n")
TOO_MANY = (429, b"Too many requests; retry later.\n")
FORBIDDEN = (403, b"Forbidden: cross-site request refused.\n")


class Refusal(NamedTuple):
    """A canned reply the guard chose instead of the app's response."""

    status: int
    body: bytes
    retry_after: int | None = None


class Shared:
    """Config, engine and backend of one middleware instance."""

    __slots__ = (
        "backend",
        "clients",
        "config",
        "csrf",
        "engine",
        "guard",
        "legacy",
        "on_event",
        "touch",
    )

    def __init__(
        self,
        config: SessionConfig,
        backend: Backend,
        clock: Callable[[], float] | None,
        legacy: Migrator | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.engine = Engine(config) if clock is None else Engine(config, clock=clock)
        self.on_event = config.on_event
        #: Legacy signed-cookie migration (``migrate_from=``), or None.
        self.legacy = legacy
        self.clients = ClientResolver(config.trusted_proxies)
        self.guard = None if config.guard is None else Guard(config.guard, self.engine.clock)
        self.csrf = CsrfPolicy(config.allowed_origins) if config.csrf else None
        #: Slide expiry inside the read when the backend can (one round trip).
        self.touch: Touch | None = None
        if _accepts_touch(backend):
            self.touch = Touch(config.touch_s, config.idle_s, config.remember_s)

    def down(self, error: BaseException) -> dict[str, str]:
        """What a ``backend_down`` event says: this store's address and the cause."""
        return down_detail(error, self.backend)

    def load(self, key: str) -> tuple[Record | None, dict[str, str] | None]:
        """``(record, unavailable)``: the stored session, read on the sync face.

        ``unavailable`` is None, or the ``backend_down`` detail when the store failed.
        """
        now = self.engine.clock()
        try:
            if self.touch is None:
                return self.backend.load(key, now), None
            return self.backend.load(key, now, self.touch), None  # type: ignore[call-arg]
        except BackendError as exc:
            return None, self.down(exc)

    async def aload(self, key: str) -> tuple[Record | None, dict[str, str] | None]:
        """``(record, unavailable)``: the stored session, read on the async face."""
        now = self.engine.clock()
        try:
            if self.touch is None:
                return await self.backend.aload(key, now), None
            return await self.backend.aload(key, now, self.touch), None  # type: ignore[call-arg]
        except BackendError as exc:
            return None, self.down(exc)

    def report(self, events: Iterable[Event], facts: RequestFacts | None = None) -> None:
        """Send events to the security logger and the callback, and count the bad ones.

        ``facts`` lets the guard count a stale cookie repeated by parallel
        requests once (a salted in-process hash; the value is never stored).
        """
        events = tuple(events)
        for event in events:
            emit(event, self.on_event)
        if self.guard is not None:
            repeat = hash(facts.cookie) if facts is not None and facts.cookie else None
            for alarm in self.guard.observe(events, repeat):
                emit(alarm, self.on_event)

    async def areport(self, events: Iterable[Event], facts: RequestFacts | None = None) -> None:
        """:meth:`report` for ASGI: a shared (Redis) guard counter is awaited."""
        events = tuple(events)
        for event in events:
            emit(event, self.on_event)
        if self.guard is not None:
            repeat = hash(facts.cookie) if facts is not None and facts.cookie else None
            for alarm in await self.guard.aobserve(events, repeat):
                emit(alarm, self.on_event)

    def token_sink(self, service_sink: EventSink | None) -> EventSink | None:
        """The ``on_event`` for the bearer gate: the config's callback, plus the guard.

        The token layer logs its own events and calls its service's callback;
        this sink passes them to the middleware's callback (unless it is that
        same callback) and counts invalid tokens against the client (AN-01).
        """
        guard, callback = self.guard, self.on_event
        if guard is None:
            return callback

        def sink(event: Event) -> None:
            if callback is not None and callback is not service_sink:
                callback(event)
            for alarm in guard.observe((event,)):
                emit(alarm, callback)

        return sink

    def bearer(self, tokens: TokenService | None, transport: str | None) -> BearerGate | None:
        """The bearer-token gate of token mode (docs/tokens.md), or None for cookies only."""
        if tokens is None and transport in (None, "cookie"):
            return None
        from .tokens.transport import bearer_gate

        gate = bearer_gate(
            tokens, transport, self.report, self.token_sink(getattr(tokens, "on_event", None))
        )
        if tokens is not None and self.guard is not None:
            tokens.add_observer(self.refresh_observer)
        return gate

    def refresh_observer(self, event: Event) -> None:
        """Counts refresh tokens refused or reused at the refresh endpoint.

        Access tokens refused by the bearer gate already reach the guard
        through :meth:`token_sink`; this catches the refresh side only, so
        nothing is counted twice.
        """
        refresh = event.kind == "token_reuse" or (
            event.kind == "token_invalid" and event.detail.get("token") == "refresh"
        )
        if refresh and self.guard is not None:
            for alarm in self.guard.observe((event,)):
                emit(alarm, self.on_event)

    def blocked(self, facts: RequestFacts) -> Refusal | None:
        """429 for a client the guard blocked; runs before the engine and the backend."""
        guard = self.guard
        if guard is None:
            return None
        wait = guard.retry_after(facts.client)
        return Refusal(*TOO_MANY, wait) if wait else None

    def forged(
        self,
        facts: RequestFacts,
        session: Session,
        *,
        websocket: bool = False,
        legacy: Found | None = None,
    ) -> Refusal | None:
        """403 for a cross-site unsafe request on a live session (CS-01).

        A verified legacy cookie being migrated (``legacy``) is a live
        session too: it carries the user's authority just the same.
        """
        csrf = self.csrf
        if csrf is None:
            return None
        if session.record is None and (legacy is None or legacy.data is None):
            return None
        if not websocket and facts.method not in UNSAFE_METHODS:
            return None  # the common case, decided without a call
        event = csrf.check(facts, websocket=websocket)
        if event is None:
            return None
        self.report([event])
        return Refusal(*FORBIDDEN)

    def flooded(self, commit: Commit, facts: RequestFacts) -> Refusal | None:
        """429 instead of applying a commit that creates sessions past the client's limit."""
        if self.guard is None:
            return None
        creations = sum(isinstance(op, Create) and op.replaces is None for op in commit.ops)
        if not creations:
            return None
        wait, event = self.guard.admit(facts.client, creations)
        if event is not None:
            self.report([event])
        return Refusal(*TOO_MANY, wait) if wait else None


def _accepts_touch(backend: Backend) -> bool:
    """True when both load faces take ``touch`` (a subclass may override them without)."""
    if not getattr(backend, "touches_on_load", False):
        return False
    try:
        faces = (inspect.signature(backend.load), inspect.signature(backend.aload))
    except (TypeError, ValueError):
        return False
    return all("touch" in face.parameters for face in faces)


def build(
    config: SessionConfig | None,
    backend: Backend | None,
    clock: Callable[[], float] | None,
    fields: dict[str, Any],
) -> Shared:
    """The shared state from the middleware's keyword arguments.

    Besides config fields it accepts Starlette's keywords (``secret_key``,
    ``https_only``...; see :mod:`sessionware.keywords`) and the
    migration keywords ``migrate_from`` / ``legacy_secret``
    (:mod:`sessionware.migration`), imported only when such keywords arrive.
    """
    legacy: dict[str, Any] = {
        k: fields.pop(k) for k in ("migrate_from", "legacy_secret") if k in fields
    }
    if fields:
        from .keywords import STARLETTE_KEYWORDS, translate

        if fields.keys() & STARLETTE_KEYWORDS:
            if legacy.get("migrate_from") is not None and legacy.get("legacy_secret") is None:
                # The usual switch keeps the old secret: it verifies the old cookies.
                legacy["legacy_secret"] = fields.get("secret_key")
            fields = translate(fields)
    if config is not None and fields:
        raise ConfigError(f"pass either config= or config fields, not both (got {sorted(fields)})")
    if config is None:
        try:
            config = SessionConfig(**fields)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc
    if not config.secure:
        from .plain_http import NATIVE_SPELLING, secure_notice

        log.warning("%s", secure_notice(NATIVE_SPELLING, config.cookie_name))
    migrator = None
    if legacy:
        from .migration import migrator_from_fields

        migrator = migrator_from_fields(legacy, config)
    return Shared(config, backend if backend is not None else MemoryBackend(), clock, migrator)
