"""The values the token service hands out, and its small revocation cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AccessClaims", "LiveCache", "TokenPair"]


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or refresh hands to the client.

    ``handle`` is the session's public handle (for the app's own records,
    e.g. a device list); :meth:`as_dict` is the OAuth 2.0 token response body
    (RFC 6749 §5.1), without it.

    .. versionadded:: 0.1
    """

    access_token: str
    refresh_token: str
    expires_in: int
    handle: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON body for a token response."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }

    def __repr__(self) -> str:  # never print the secrets (AN-04)
        return f"TokenPair(handle={self.handle!r}, expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified access token.

    ``claims`` is the whole verified payload (registered and custom claims).
    ``auth_time`` is when the user last authenticated, for step-up checks
    (TM-07); ``expires_at`` is the token's ``exp``.

    .. versionadded:: 0.1
    """

    user_id: str
    handle: str
    auth_time: float
    expires_at: float
    claims: dict[str, Any] = field(hash=False, compare=False)


class LiveCache:
    """``handle -> alive`` answers of the revocation check, kept ``ttl`` seconds.

    Bounded (least recently stored entries go first), so a flood of valid
    tokens for many sessions cannot grow it without limit (AN-06).  Entries
    older than ``ttl`` are useless, so each ``put`` also drops those from the
    old end: the cache holds about one TTL's worth of answers, not ``size``
    (the soak test saw it fill to ``size`` with one-second-old revocations,
    about 2.5 MiB).  A TTL of 0 disables caching: every check reads the backend.
    """

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, handle: str, now: float) -> bool | None:
        """The cached answer, or None when absent or older than ``ttl``."""
        with self._lock:
            item = self._items.get(handle)
        if item is None or not 0 <= now - item[0] < self.ttl:
            return None
        return item[1]

    def put(self, handle: str, alive: bool, now: float) -> None:
        """Remember an answer (a revocation by this process is stored as dead)."""
        if self.ttl <= 0:
            return
        with self._lock:
            items = self._items
            items[handle] = (now, alive)
            items.move_to_end(handle)
            while len(items) > self.size:
                items.popitem(last=False)
            # Stored in time order: stale entries sit at the old end.
            while items:
                stored = next(iter(items.values()))[0]
                if 0 <= now - stored < self.ttl:
                    break
                items.popitem(last=False)
