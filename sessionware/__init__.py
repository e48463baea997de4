"""sessionware: hardened server-side sessions for any ASGI or WSGI app.

The browser holds only an opaque, signed, 256-bit ID; the data, the expiry
and the power to end a session stay on the server::

    from sessionware import SessionMiddleware, session_of

    app.add_middleware(SessionMiddleware, secret_keys=[SECRET])  # Starlette, FastAPI
    flask_app.wsgi_app = WSGISessionMiddleware(flask_app.wsgi_app, secret_keys=[SECRET])

    session = session_of(request)        # the typed Session (request.session is the same)
    session.login(user_id)               # new ID (fixation defence), auth_time = now
    session.logout()                     # record deleted, cookie expired

Stores: :class:`MemoryBackend` (default), ``sessionware.backends.SQLBackend``
(extra ``sql``), ``sessionware.backends.RedisBackend`` (extra ``redis``).
Managing a user's sessions: :class:`SessionManager`.  Settings:
:class:`SessionConfig`.  Errors: :class:`SessionwareError` and its subclasses.

Documentation: https://sessionware.github.io/sessionware/ .  Public names
are the ones in ``__all__``; everything else may change.
"""

from __future__ import annotations

from .access import session_of
from .asgi import SessionMiddleware
from .backends import MemoryBackend
from .config import GuardConfig, SessionConfig
from .core import Engine, RequestFacts
from .errors import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    InvalidToken,
    MissingExtra,
    SessionDataTooLarge,
    SessionwareError,
    TokenError,
    TokenReused,
)
from .events import Event
from .manager import SessionInfo, SessionManager
from .session import Session
from .tokens import AccessClaims, TokenPair, TokenService, TokenSession
from .wsgi import WSGISessionMiddleware

__version__ = "0.1.0"

__all__ = [
    "AccessClaims",
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "Engine",
    "Event",
    "GuardConfig",
    "InvalidToken",
    "MemoryBackend",
    "MissingExtra",
    "RequestFacts",
    "Session",
    "SessionConfig",
    "SessionDataTooLarge",
    "SessionInfo",
    "SessionManager",
    "SessionMiddleware",
    "SessionwareError",
    "TokenError",
    "TokenPair",
    "TokenReused",
    "TokenService",
    "TokenSession",
    "WSGISessionMiddleware",
    "__version__",
    "session_of",
]
