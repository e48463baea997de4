"""What the ASGI and WSGI adapters share: construction, reporting, canned replies."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .backends.base import Backend
from .backends.memory import MemoryBackend
from .config import SessionConfig
from .core import Engine
from .errors import BackendError, ConfigError
from .events import Event, emit
from .records import Record, Touch

if TYPE_CHECKING:
    from .integrations.migrate import Migrator

__all__ = ["Shared", "build"]

log = logging.getLogger("sessionware")

BAD_REQUEST = (400, b"Bad request: session IDs are accepted only in the session cookie.\n")
UNAVAILABLE = (503, b"Session store unavailable; please retry shortly.\n")
TOO_LARGE = (500, b"Internal error: session data too large.\n")


class Shared:
    """Config, engine and backend of one middleware instance."""

    __slots__ = ("backend", "config", "engine", "legacy", "on_event", "touch")

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
        #: Slide expiry inside the read when the backend can (one round trip).
        self.touch: Touch | None = None
        if _accepts_touch(backend):
            self.touch = Touch(config.touch_s, config.idle_s, config.remember_s)

    def load(self, key: str) -> tuple[Record | None, bool]:
        """``(record, unavailable)``: the stored session, read on the sync face."""
        now = self.engine.clock()
        try:
            if self.touch is None:
                return self.backend.load(key, now), False
            return self.backend.load(key, now, self.touch), False  # type: ignore[call-arg]
        except BackendError:
            return None, True

    async def aload(self, key: str) -> tuple[Record | None, bool]:
        """``(record, unavailable)``: the stored session, read on the async face."""
        now = self.engine.clock()
        try:
            if self.touch is None:
                return await self.backend.aload(key, now), False
            return await self.backend.aload(key, now, self.touch), False  # type: ignore[call-arg]
        except BackendError:
            return None, True

    def report(self, events: Iterable[Event]) -> None:
        """Send events to the security logger and the configured callback."""
        for event in events:
            emit(event, self.on_event)


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
    ``https_only``...; see :mod:`sessionware.integrations.starlette`) and the
    migration keywords ``migrate_from`` / ``legacy_secret``
    (:mod:`sessionware.integrations.migrate`).  Those layers sit above this
    one and are imported only when such keywords arrive.
    """
    legacy: dict[str, Any] = {
        k: fields.pop(k) for k in ("migrate_from", "legacy_secret") if k in fields
    }
    if fields:
        from .integrations.starlette import STARLETTE_KEYWORDS, translate

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
    migrator = None
    if legacy:
        from .integrations.migrate import migrator_from_fields

        migrator = migrator_from_fields(legacy, config)
    return Shared(config, backend if backend is not None else MemoryBackend(), clock, migrator)
