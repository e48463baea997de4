"""What the ASGI and WSGI adapters share: construction, reporting, canned replies.

The guard hooks live here too, so each adapter calls them in a line or two:
:meth:`Shared.blocked` once the engine screened the cookie (it refuses only
a blocked client's *failing* credential), :meth:`Shared.forged` once the
session is known, :meth:`Shared.forged_login` and :meth:`Shared.admit`
before a commit's ops are applied, and :meth:`Shared.report` (which feeds
every forged credential to the guard) wherever events come out.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from .backends.base import Backend
from .backends.memory import MemoryBackend
from .config import SessionConfig
from .cookies import read_session_cookies
from .core import Begin, Commit, Engine, RequestFacts
from .defences.client_address import ClientResolver
from .defences.csrf import UNSAFE_METHODS, CsrfPolicy
from .defences.flood import CreationLedger
from .defences.guard import COUNTED, PRESENTED, Guard
from .endings import Ending
from .errors import BackendError, ConfigError, StoreFull
from .events import Event, EventSink, down_detail, emit
from .records import Create, Delete, Record, Touch
from .session import Session

if TYPE_CHECKING:
    from .backends.base import TombstoneBackend
    from .migration import Found, Migrator
    from .tokens.service import TokenService
    from .tokens.transport import BearerGate

__all__ = ["Refusal", "Shared", "build", "merge_vary", "store_event"]

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
    #: Extra response headers (a deletion cookie for a refused stale cookie).
    headers: tuple[tuple[str, str], ...] = ()


def merge_vary(value: str | None) -> str:
    """``Vary`` with ``Cookie`` added once: merged into the app's own value, never doubled."""
    if not value or not value.strip():
        return "Cookie"
    names = {part.strip().lower() for part in value.split(",")}
    if "cookie" in names or "*" in names:
        return value
    return f"{value}, Cookie"


def store_event(exc: BackendError, client: str | None, detail: dict[str, str]) -> Event:
    """The event of a failed write: ``store_full`` when memory refused, else ``backend_down``.

    ``detail`` is the store's address and the cause (:meth:`Shared.down`).
    """
    kind = "store_full" if isinstance(exc, StoreFull) else "backend_down"
    return Event(kind, client, detail=detail)


class Shared:
    """Config, engine and backend of one middleware instance."""

    __slots__ = (
        "backend",
        "clients",
        "config",
        "csrf",
        "engine",
        "guard",
        "ledger",
        "legacy",
        "on_event",
        "tombstones",
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
        self.clients = ClientResolver(config.trusted_proxies, on_event=config.on_event)
        self.guard = None if config.guard is None else Guard(config.guard, self.engine.clock)
        self.ledger = None if config.guard is None else CreationLedger(config.guard)
        self.csrf = CsrfPolicy(config.allowed_origins) if config.csrf else None
        #: Slide expiry inside the read when the backend can (one round trip).
        self.touch: Touch | None = None
        # A sliding persistent cookie must be re-sent when the expiry slides, which
        # the planner does at its touch; a touch inside the read would hide it.
        if config.cookie_lifetime == "remember" and _accepts_touch(backend):
            self.touch = Touch(config.touch_s, config.idle_s, config.remember_s)
        #: The backend says why sessions ended (optional capability): read only
        #: for a verified cookie whose record is gone, never for a live one.
        self.tombstones = bool(getattr(backend, "keeps_tombstones", False))
        self.engine.tombstones = self.tombstones

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

    def ending(self, key: str) -> Ending | None:
        """The tombstone at ``key`` and, for a rotation, the live successor (sync face)."""
        backend = cast("TombstoneBackend", self.backend)
        now = self.engine.clock()
        try:
            tomb = backend.load_ending(key, now)
            if tomb is None or tomb.reason != "rotated":
                return None if tomb is None else Ending(tomb)
            successor = None if tomb.successor is None else self.backend.load(tomb.successor, now)
            if successor is None and tomb.renewal:  # renewed again since: same handle
                successor = self.backend.load_handle(tomb.handle, now)
            return Ending(tomb, successor)
        except BackendError:
            return None

    async def aending(self, key: str) -> Ending | None:
        """:meth:`ending` on the async face."""
        backend = cast("TombstoneBackend", self.backend)
        now = self.engine.clock()
        try:
            tomb = await backend.aload_ending(key, now)
            if tomb is None or tomb.reason != "rotated":
                return None if tomb is None else Ending(tomb)
            successor = None
            if tomb.successor is not None:
                successor = await self.backend.aload(tomb.successor, now)
            if successor is None and tomb.renewal:
                successor = await self.backend.aload_handle(tomb.handle, now)
            return Ending(tomb, successor)
        except BackendError:
            return None

    def report(self, events: Iterable[Event], facts: RequestFacts | None = None) -> None:
        """Send events to the security logger and the callback, and count the bad ones.

        ``facts`` lets the guard count one forged value repeated by parallel
        requests once (a salted in-process hash; the value is never stored).
        """
        events = tuple(events)
        for event in events:
            emit(event, self.on_event)
        if self.guard is not None and any(e.kind in COUNTED for e in events):
            for alarm in self.guard.observe(events, self._credential(facts)):
                emit(alarm, self.on_event)

    async def areport(self, events: Iterable[Event], facts: RequestFacts | None = None) -> None:
        """:meth:`report` for ASGI: a shared (Redis) guard counter is awaited."""
        events = tuple(events)
        for event in events:
            emit(event, self.on_event)
        if self.guard is not None and any(e.kind in COUNTED for e in events):
            for alarm in await self.guard.aobserve(events, self._credential(facts)):
                emit(alarm, self.on_event)

    def _credential(self, facts: RequestFacts | None) -> int | None:
        """A salted in-process hash of the presented session cookie value (never stored)."""
        if facts is None or not facts.cookie:
            return None
        values = read_session_cookies(facts.cookie, self.config.cookie_name)
        return hash(values[0]) if len(values) == 1 else None

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
            for alarm in guard.observe((event,), PRESENTED.get()):
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
        if gate is not None and self.guard is not None:
            gate.blocked = self.guard.retry_after
        if tokens is not None and self.guard is not None:
            tokens.add_observer(self.refresh_observer)
            tokens.blocked = self.guard.retry_after
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
            for alarm in self.guard.observe((event,), PRESENTED.get()):
                emit(alarm, self.on_event)

    def blocked(self, facts: RequestFacts, begin: Begin) -> Refusal | None:
        """429 for a blocked client's cookie that failed verification (AN-01).

        Only a bad signature is refused: a request with a valid cookie, a
        stale one, or none at all passes whatever its client did.  The reply
        expires the presented cookie, so a browser holding one signed with a
        retired key recovers on its next request.  Runs before the backend.
        """
        guard = self.guard
        if guard is None or not begin.events:
            return None
        if not any(event.kind == "bad_signature" for event in begin.events):
            return None
        wait = guard.retry_after(facts.client)
        if not wait:
            return None
        headers = (("set-cookie", self.engine.cookies.delete()), ("cache-control", "no-store"))
        return Refusal(*TOO_MANY, wait, headers)

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

    def forged_login(self, facts: RequestFacts, session: Session) -> Refusal | None:
        """403 for a cross-site unsafe request whose handler called ``login()`` (CS-01).

        Login CSRF signs the victim's browser in as the attacker; it needs no
        prior session, so this check runs at commit, whatever :meth:`forged`
        decided before the app ran.  Nothing is stored.
        """
        csrf = self.csrf
        if csrf is None or session.pending_login is None or facts.method not in UNSAFE_METHODS:
            return None
        event = csrf.check(facts)
        if event is None:
            return None
        self.report([event])
        return Refusal(*FORBIDDEN)

    def admit(self, commit: Commit, facts: RequestFacts) -> Commit:
        """``commit``, plus the deletion of its client's oldest anonymous sessions past the limit.

        Never a refusal: see :mod:`sessionware.defences.flood`.  Logins and
        rotations are not counted.
        """
        ledger = self.ledger
        if ledger is None:
            return commit
        keys = [
            op.record.key
            for op in commit.ops
            if isinstance(op, Create) and op.replaces is None and op.record.user_id is None
        ]
        if not keys:
            return commit
        victims, event = ledger.admit(facts.client, keys, self.engine.clock())
        if event is not None:
            self.report([event])
        if not victims:
            return commit
        return replace(commit, ops=(*commit.ops, *(Delete(key) for key in victims)))


def _accepts_touch(backend: Backend) -> bool:
    """True when both load faces take ``touch`` (a subclass may override them without)."""
    if not getattr(backend, "touches_on_load", False):
        return False
    try:
        faces = (inspect.signature(backend.load), inspect.signature(backend.aload))
    except (TypeError, ValueError):
        return False
    return all("touch" in face.parameters for face in faces)


#: The Starlette keyword that restores each native default the profile relaxes.
STARLETTE_RESTORE = {
    "idle_timeout": "max_age=1800",
    "absolute_timeout": "absolute_timeout=43200",
    "cookie_name": "session_cookie='__Host-session' with https_only=True",
    "secure": "https_only=True",
    "cookie_lifetime": "max_age=None",
}


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
        k: fields.pop(k) for k in ("migrate_from", "legacy_secret", "legacy_store") if k in fields
    }
    if fields:
        from .keywords import STARLETTE_KEYWORDS, log_relaxed, relaxed, translate

        if fields.keys() & STARLETTE_KEYWORDS:
            if legacy.get("migrate_from") is not None and legacy.get("legacy_secret") is None:
                # The usual switch keeps the old secret: it verifies the old cookies.
                legacy["legacy_secret"] = fields.get("secret_key")
            fields = translate(fields)
            log_relaxed("Starlette", relaxed(fields, STARLETTE_RESTORE))
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

        migrator = migrator_from_fields(legacy, config, config.codec == "tagged")
    if backend is None or isinstance(backend, MemoryBackend):
        from .deployment import warn_memory_backend

        warn_memory_backend()
    return Shared(config, backend if backend is not None else MemoryBackend(), clock, migrator)
