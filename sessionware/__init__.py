"""sessionware: hardened server-side sessions for any ASGI or WSGI app.

Public names are the ones in ``__all__``; everything else may change.
"""

from __future__ import annotations

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
from .lazy import load_session
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
    "load_session",
]
