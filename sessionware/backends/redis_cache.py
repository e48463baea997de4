"""Server-assisted client-side caching for :class:`~sessionware.backends.redis.RedisBackend`.

Opt-in (``RedisBackend(url, client_cache=True)`` or ``client_cache=ClientCache(...)``):
a session read before is served from this process, with no round trip,
until Redis says it changed.

How Redis says so: one dedicated connection per backend, owned by a
background thread, asks for its own ID, turns on ``CLIENT TRACKING ON
REDIRECT <own id> BCAST PREFIX <prefix>s:`` and subscribes to
``__redis__:invalidate`` (the RESP2 redirect mode, so it works with either
protocol on the data connections and for both faces).  In broadcast mode
Redis reports every change to any session hash under the prefix (a write,
a delete, an expiry, a ``FLUSHDB``) to that connection, whichever client
made it.  The thread drops the named entries at once.

Fail safe, never stale:

* The cache is used only while that connection is up and tracking.  When it
  drops (Redis restarts, the network breaks, a ``PING`` sent every
  ``ping_every`` seconds is not answered), the cache is emptied and bypassed
  (every read goes to Redis) until a new connection is tracking again; both
  transitions are logged on ``sessionware.backends.redis`` and reported to
  ``on_state``.
* A read stores its result only if no invalidation (and no outage) happened
  between sending it and storing it (a ticket: the invalidation counter),
  so a reply older than a change that was already reported is never cached.
  A change reported after the store removes the entry, as usual.
* This process's own commits drop the keys they touch before and after
  they run, so a request never reads back its own previous state.
* Records are stored, not trusted: expiry is checked on every hit to the
  microsecond (EX-05), and each hit returns a copy.

A session revoked, logged out or changed through another process is thus
stale here for at most the delivery of one invalidation message.

Bounded by ``max_entries`` and ``max_bytes`` (an estimate of the session
text held); the oldest entries go first.  Redis Cluster is refused at
construction (each master would need its own tracking connection).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..records import Record

__all__ = ["ClientCache", "Tracker"]

log = logging.getLogger("sessionware.backends.redis")

CHANNEL = "__redis__:invalidate"


@dataclass(frozen=True)
class ClientCache:
    """Settings of the client-side cache.

    :param max_entries: sessions kept at most.
    :param max_bytes: session text kept at most (keys and values, estimated).
    :param ping_every: seconds between liveness checks of the invalidation
        connection; an unanswered ``PING`` turns the cache off.
    :param on_state: called with ``"client_cache_on"`` or
        ``"client_cache_off"`` and a reason, from the tracking thread.

    .. versionadded:: 0.2
    """

    max_entries: int = 10_000
    max_bytes: int = 32 * 1024 * 1024
    ping_every: float = 1.0
    on_state: Callable[[str, str], None] | None = None


def _size(record: Record) -> int:
    text = sum(len(k) + len(v) for k, v in record.data.items())
    text += sum(len(k) + len(v) for k, v in record.info.items())
    return 200 + len(record.key) + text + 32 * len(record.extra)


class Tracker:
    """The cache and the thread that keeps it honest (one per backend)."""

    def __init__(
        self, settings: ClientCache, connect: Callable[[], Any], tracked_prefix: str
    ) -> None:
        self.settings = settings
        self._connect = connect
        self._prefix = tracked_prefix
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Record, int]] = OrderedDict()
        self._bytes = 0
        self._epoch = 0
        self.healthy = False
        #: Invalidation messages received, and the storage keys the last one
        #: named (for tests and the benchmarks: messages arrive in order).
        self.received = 0
        self.last: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None

    def __len__(self) -> int:
        return len(self._entries)

    # -- the read path ----------------------------------------------------------

    def get(self, key: str, now: float) -> Record | None:
        """A copy of the cached live record at ``key``, or None (then ask Redis)."""
        if not self.healthy:
            self._start()
            return None
        hit = self._entries.get(key)
        if hit is None or not hit[0].live(now):
            return None
        return hit[0].copy()

    def ticket(self) -> int | None:
        """Taken before a read is sent; None when the cache is off."""
        return self._epoch if self.healthy else None

    def put(self, key: str, record: Record | None, ticket: int | None) -> None:
        """Keep what a read returned, if nothing was invalidated since ``ticket``."""
        if record is None or ticket is None:
            return
        size = _size(record)
        settings = self.settings
        if size > settings.max_bytes:
            return
        with self._lock:
            if ticket != self._epoch or not self.healthy:
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (record.copy(), size)
            self._bytes += size
            while len(self._entries) > settings.max_entries or self._bytes > settings.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def forget(self, keys: Iterable[str]) -> None:
        """Drop ``keys`` (this process is changing them) and void reads in flight."""
        with self._lock:
            self._epoch += 1
            for key in keys:
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]

    # -- the tracking thread ----------------------------------------------------------

    def _start(self) -> None:
        if self._thread is not None or self._stop.is_set():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sessionware-redis-tracking", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Stop the thread and close its connection; the cache stays off."""
        self._stop.set()
        conn = self._conn
        if conn is not None:
            conn.disconnect()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._set_off("closed", report=False)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._track()
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._set_off(f"{type(exc).__name__}: {exc}")
            self._stop.wait(0.5)

    def _track(self) -> None:
        conn = self._connect()
        self._conn = conn
        try:
            conn.connect()
            conn.send_command("CLIENT", "ID")
            own = conn.read_response()
            conn.send_command(
                "CLIENT", "TRACKING", "ON", "REDIRECT", own, "BCAST", "PREFIX", self._prefix
            )
            if conn.read_response() != "OK":
                raise RuntimeError("CLIENT TRACKING was refused")
            conn.send_command("SUBSCRIBE", CHANNEL)
            conn.read_response()
            with self._lock:  # from here on every change is reported to us
                self._clear()
                self.healthy = True
            self._report("client_cache_on", f"tracking {self._prefix}* on connection {own}")
            waiting = False
            while not self._stop.is_set():
                if not conn.can_read(timeout=self.settings.ping_every):
                    if waiting:
                        raise TimeoutError("the invalidation connection did not answer a PING")
                    conn.send_command("PING")
                    waiting = True
                    continue
                message = conn.read_response()
                if message[0] == "pong":
                    waiting = False
                elif message[0] == "message":
                    self._invalidate(message[2])
        finally:
            self._conn = None
            conn.disconnect()

    def _invalidate(self, names: list[str] | None) -> None:
        with self._lock:
            self._epoch += 1
            self.received += 1
            if names is None:  # FLUSHDB / FLUSHALL: everything may have changed
                self._clear()
                return
            cut = len(self._prefix)
            self.last = tuple(name[cut:] for name in names)
            for name in names:
                old = self._entries.pop(name[cut:], None)
                if old is not None:
                    self._bytes -= old[1]

    def _clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self._epoch += 1

    def _set_off(self, reason: str, *, report: bool = True) -> None:
        with self._lock:
            was = self.healthy
            self.healthy = False
            self._clear()
        if was and report:
            self._report("client_cache_off", reason)

    def _report(self, kind: str, detail: str) -> None:
        level = logging.INFO if kind == "client_cache_on" else logging.WARNING
        log.log(level, "%s: %s", kind, detail)
        if self.settings.on_state is not None:
            try:
                self.settings.on_state(kind, detail)
            except Exception:
                log.exception("client_cache on_state callback failed")
