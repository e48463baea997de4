"""What the ASGI and WSGI adapters share: construction, reporting, canned replies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .backends.base import Backend
from .backends.memory import MemoryBackend
from .config import SessionConfig
from .core import Engine
from .errors import ConfigError
from .events import Event, emit

if TYPE_CHECKING:
    from .integrations.migrate import Migrator

__all__ = ["Shared", "build"]

log = logging.getLogger("sessionware")

BAD_REQUEST = (400, b"Bad request: session IDs are accepted only in the session cookie.\n")
UNAVAILABLE = (503, b"Session store unavailable; please retry shortly.\n")
TOO_LARGE = (500, b"Internal error: session data too large.\n")


class Shared:
    """Config, engine and backend of one middleware instance."""

    __slots__ = ("backend", "config", "engine", "legacy", "on_event")

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

    def report(self, events: Iterable[Event]) -> None:
        """Send events to the security logger and the configured callback."""
        for event in events:
            emit(event, self.on_event)


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
