"""The errors sessionware raises.

Bad *client* input never raises into the app: it becomes an anonymous
session plus a security event.  The classes below are for the developer
(configuration, oversized data) and for the adapters (a store that is down).

::

    SessionwareError
     ├── ConfigError            (also ValueError)  unsafe or inconsistent configuration
     ├── SessionDataTooLarge    (also ValueError)  serialized session above max_data_bytes
     ├── BackendError                              the store failed or is unreachable
     │    └── BackendUnavailable                   connection refused / timed out
     │         └── StoreFull                       memory store full of signed-in sessions
     ├── TokenError                                a token was refused
     │    ├── InvalidToken                         bad signature, expired, wrong type...
     │    └── TokenReused                          a rotated refresh token came back
     └── MissingExtra           (also ImportError) an optional dependency is absent
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "InvalidToken",
    "MissingExtra",
    "SessionDataTooLarge",
    "SessionwareError",
    "StoreFull",
    "TokenError",
    "TokenReused",
]


class SessionwareError(Exception):
    """Base class of every error raised by sessionware."""


class ConfigError(SessionwareError, ValueError):
    """The configuration is unsafe or inconsistent; raised at construction."""


class SessionDataTooLarge(SessionwareError, ValueError):
    """An assignment would push the serialized session past ``max_data_bytes``.

    Raised at the line that made the session too large, so the developer sees
    where the growth happened; ``size`` and ``limit`` are in bytes.
    """

    def __init__(self, size: int, limit: int, key: str | None = None) -> None:
        self.size = size
        self.limit = limit
        self.key = key
        where = f" (setting {key!r})" if key is not None else ""
        super().__init__(
            f"session data would be {size} bytes serialized{where}, above max_data_bytes={limit}"
        )


class BackendError(SessionwareError):
    """The session store failed; reads fail closed and writes answer 503."""


class BackendUnavailable(BackendError):
    """The session store could not be reached (refused, timed out, locked)."""


class StoreFull(BackendUnavailable):
    """A bounded store would have to evict a signed-in session to take an anonymous one.

    The write answers 503 with ``Retry-After`` like any outage; nobody who
    is signed in loses their session to a flood of anonymous visitors.
    """


class TokenError(SessionwareError):
    """A token was refused.  ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class InvalidToken(TokenError):
    """The token is malformed, forged, expired, revoked or of the wrong type."""


class TokenReused(TokenError):
    """A refresh token that was already rotated came back: the session is revoked."""


class MissingExtra(SessionwareError, ImportError):
    """An optional dependency could not be imported; the message names the extra.

    The import error that caused it (``raise MissingExtra(...) from exc``) is
    appended to the message, on the same line: a package that *is* installed
    but fails to import (SQLAlchemy's asyncio module without ``greenlet``, a
    broken wheel) must not read as "not installed" with the real reason
    hidden behind a debug switch.
    """

    def __init__(self, extra: str, package: str) -> None:
        self.extra = extra
        self.package = package
        super().__init__(
            f"{package} is required for this feature: pip install 'sessionware[{extra}]'"
        )

    def __str__(self) -> str:
        message = super().__str__()
        cause = self.__cause__
        if cause is None or isinstance(cause, MissingExtra):
            return message
        reason = " ".join(str(cause).split()) or type(cause).__name__
        return f"{message} (import failed: {type(cause).__name__}: {reason})"
