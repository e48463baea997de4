"""One ``redis.asyncio`` client per running event loop, for the Redis async face.

An asyncio client's connections belong to the loop that opened them: used
from another loop they fail with ``attached to a different loop`` or ``Event
loop is closed``.  Yet one backend object routinely meets many loops: an app
built at import time and driven by Starlette's ``TestClient`` without
``with`` (a new loop per request), pytest-asyncio's loop per test, a script
calling ``asyncio.run`` repeatedly.  So the async face asks :class:`LoopClients`
for the client of the loop it is running in; the first call in a loop builds
one.

Closing follows the loop.  Each client comes with a *watcher*, an async
generator started in its loop and parked at its ``yield``.  ``asyncio.run``,
``asyncio.Runner`` (pytest-asyncio, anyio, hence ``TestClient``) and any
well-behaved loop owner call ``loop.shutdown_asyncgens()`` before closing the
loop, which resumes the watcher, and its ``finally`` closes the client while
the loop can still run the socket callbacks, so no ``ResourceWarning`` is
left.  A loop closed without that step is noticed the next time a new loop
asks for a client: its client is dropped and its sockets released there
(:func:`.redis_connect.release`), since no callback can run on a closed loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

from .redis_connect import RedisError, release

__all__ = ["LoopClients"]


class _Entry:
    """A loop's client and the watcher that closes it with the loop."""

    __slots__ = ("client", "open", "watcher")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.open = True
        self.watcher: AsyncGenerator[None, None] | None = None


class LoopClients:
    """The async client of each running event loop, built on first use by ``make``."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._entries: dict[asyncio.AbstractEventLoop, _Entry] = {}
        # The last loop served, checked first: one identity test per call.
        self._last: tuple[asyncio.AbstractEventLoop, Any] | None = None

    def __len__(self) -> int:
        """How many loops hold a client now (for tests and ``repr``)."""
        return len(self._entries)

    def get(self) -> Any:
        """The client of the running loop (built, and its watcher started, if new)."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        with self._lock:
            entry = self._entries.get(loop)
            if entry is None:
                self._reap()
                entry = _Entry(self._make())
                self._entries[loop] = entry
                self._start_watcher(loop, entry)
            self._last = (loop, entry.client)
            return entry.client

    async def aclose(self) -> None:
        """Close the running loop's client; the next call in this loop builds a new one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
            self._reap()
        if entry is not None and entry.watcher is not None:
            await entry.watcher.aclose()  # its ``finally`` closes the client

    def _start_watcher(self, loop: asyncio.AbstractEventLoop, entry: _Entry) -> None:
        # Run the generator to its ``yield`` right here: the first step
        # registers it with the running loop (sys.set_asyncgen_hooks) without
        # awaiting anything.  We hold the only strong reference to it.
        watcher = self._watch(loop, entry)
        entry.watcher = watcher
        with contextlib.suppress(StopIteration):
            watcher.asend(None).send(None)

    async def _watch(self, loop: asyncio.AbstractEventLoop, entry: _Entry) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            if entry.open:
                entry.open = False
                self._forget(loop, entry)
                # Redis gone at shutdown: the sockets are dead anyway, and an
                # error here would only be logged by asyncio as a failed close.
                with contextlib.suppress(RedisError, OSError):
                    await entry.client.aclose()

    def _forget(self, loop: asyncio.AbstractEventLoop, entry: _Entry) -> None:
        with self._lock:
            if self._entries.get(loop) is entry:
                del self._entries[loop]
            last = self._last
            if last is not None and last[0] is loop:
                self._last = None

    def _reap(self) -> None:
        """Drop the clients of loops closed without ``shutdown_asyncgens`` (lock held)."""
        for loop in [lp for lp in self._entries if lp.is_closed()]:
            entry = self._entries.pop(loop)
            last = self._last
            if last is not None and last[0] is loop:
                self._last = None
            entry.open = False
            if entry.watcher is not None:
                # Finish the generator here, without its loop: its ``finally``
                # sees ``open`` is false and awaits nothing.
                with contextlib.suppress(StopIteration):
                    entry.watcher.aclose().send(None)
            release(entry.client)
