"""The per-client anonymous-session limit: evict the flooder's own oldest, never refuse.

A 429 here would be a lockout tool: any third-party page can make a visitor's
browser request a page that writes the session (a login form storing its
CSRF token) a few dozen times with ``<img>`` tags, and everyone behind that
visitor's address (an office NAT, a carrier's CGNAT) would then be refused
the login form.  So the limit bounds how many *anonymous* sessions one client
address holds: past ``create_limit``, that client's oldest anonymous sessions
are deleted in the same backend call that creates the new one.  Logins are
never limited here (the app verified the user before calling ``login()``);
they are bounded per user by ``max_sessions_per_user`` instead.

Only keys this process created for a client are ever evicted, and only
anonymous ones: a tracked key never becomes a signed-in session, because
``login()`` always moves the session to a fresh key (FX-03).  Memory is
bounded: at most ``max_clients`` keys are remembered in total; past that
the least recently active client's list is forgotten (its sessions stay and
expire on their own idle timeout).
"""

from __future__ import annotations

from collections import OrderedDict

from ..config import GuardConfig
from ..events import Event
from .client_address import ClientKey, client_key

__all__ = ["CreationLedger"]


class CreationLedger:
    """Which anonymous sessions each client created, so its oldest can be evicted.

    :param config: ``create_limit`` (sessions held per client),
        ``create_window`` (at most one ``flood`` event per client per window),
        ``max_clients`` (keys remembered in total) and ``ipv6_prefix``.

    .. versionadded:: 0.2
    """

    def __init__(self, config: GuardConfig) -> None:
        self.limit = config.create_limit
        self.window = config.create_window_s
        self._bits = config.ipv6_prefix
        self._cap = config.max_clients
        #: Per client, its anonymous sessions' storage keys, oldest first (a plain
        #: list: 56 bytes against a deque's 600, for at most ``create_limit`` keys).
        self._clients: OrderedDict[ClientKey, list[str]] = OrderedDict()
        #: Until when a client's ``flood`` event was raised (only clients past the limit).
        self._noted: dict[ClientKey, float] = {}
        self._total = 0
        #: Anonymous sessions evicted because their client was past the limit.
        self.evicted = 0

    def admit(
        self, client: str | None, keys: list[str], now: float
    ) -> tuple[list[str], Event | None]:
        """Record ``keys`` as new anonymous sessions of ``client``.

        Returns the storage keys to delete (that client's oldest beyond the
        limit) and a ``flood`` event, raised at most once per window.
        """
        if client is None or not keys:
            return [], None
        key = client_key(client, self._bits)
        table = self._clients
        held = table.get(key)
        if held is None:
            held = table[key] = []
        else:
            table.move_to_end(key)
        held.extend(keys)
        self._total += len(keys)
        excess = len(held) - self.limit
        victims: list[str] = []
        if excess > 0:
            victims = held[:excess]
            del held[:excess]
        self._total -= len(victims)
        while self._total > self._cap and len(table) > 1:
            gone, oldest = table.popitem(last=False)
            self._total -= len(oldest)
            self._noted.pop(gone, None)
        if not victims:
            return [], None
        self.evicted += len(victims)
        if self._noted.get(key, 0.0) > now:
            return victims, None
        self._noted[key] = now + self.window
        detail = {"limit": self.limit, "window": self.window, "evicted": len(victims)}
        return victims, Event("flood", client, detail=detail)

    def entries(self) -> int:
        """Keys remembered now (never more than ``max_clients`` plus one client's burst)."""
        return self._total
