"""Guard counters shared by several app servers, in Redis (extra ``redis``).

One process's guard sees only its own share of an attack: behind a load
balancer over N servers, a guesser gets N times the limit.  With a
:class:`RedisGuardState` in ``GuardConfig(shared=...)`` the bad-event counter
and the block of every client live in Redis, so all servers count together.

Cost: one round trip per *bad* event (a Lua script: count, maybe block,
answer), never one for a good request; blocks are then also kept locally,
so a blocked client is refused without asking Redis.  A server learns of a
block another server imposed at the client's next bad request there, which
for a brute-forcer is the next request.

Memory in Redis is bounded by time, not by a cap: each counter key lives
only until it drains (``bad_window`` at most) and each block key for
``block_for``.  If Redis is unreachable the guard counts locally and logs a
warning; it never fails a request because of its own bookkeeping.  Counters
use the app servers' clocks (NTP-level skew only shifts a count by seconds).
"""

from __future__ import annotations

import logging
from typing import Any

from ..config import SharedCounter
from ..errors import MissingExtra

__all__ = ["RedisGuardState", "SharedCounter"]

log = logging.getLogger("sessionware")

#: KEYS: counter, block.  ARGV: now, step, burst, block_for (seconds).
#: Returns 0 while under the limit, -ms when this event starts a block of ms,
#: +ms when the client is already blocked for ms more.
_SCRIPT = """
local now = tonumber(ARGV[1])
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return blocked end
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new = tat + tonumber(ARGV[2])
if new - now > tonumber(ARGV[3]) then
  local ms = math.floor(tonumber(ARGV[4]) * 1000)
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ms)
  return -ms
end
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now) * 1000) + 1)
return 0
"""


class RedisGuardState:
    """Bad-event counters and blocks in Redis, shared by every app server.

    :param url: ``redis://host:port/db`` (``rediss://`` for TLS).
    :param prefix: in front of every key, so apps and test runs can share a Redis.
    :param timeout: seconds per call; a slow Redis must not slow an attack's
        victims, so this is short.

    .. versionadded:: 0.1
    """

    def __init__(
        self, url: str, *, prefix: str = "sessionware:guard:", timeout: float = 0.25
    ) -> None:
        try:
            import redis
            import redis.asyncio
        except ImportError as exc:
            raise MissingExtra("redis", "redis") from exc
        self.prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        self._client = redis.Redis.from_url(url, **options)
        self._aclient = redis.asyncio.Redis.from_url(url, **options)
        self._script = self._client.register_script(_SCRIPT)
        self._ascript = self._aclient.register_script(_SCRIPT)
        self._warned = False

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}n:{key}", f"{self.prefix}b:{key}"]

    def hit(
        self, key: str, now: float, step: float, burst: float, block_for: float
    ) -> tuple[float, bool] | None:
        """Count one bad event for ``key`` (see :class:`SharedCounter`)."""
        try:
            ms = self._script(keys=self._keys(key), args=[repr(now), step, burst, block_for])
        except self._errors as exc:
            self._down(exc)
            return None
        return self._result(ms)

    async def ahit(
        self, key: str, now: float, step: float, burst: float, block_for: float
    ) -> tuple[float, bool] | None:
        """The async face of :meth:`hit` (for ASGI)."""
        try:
            ms = await self._ascript(keys=self._keys(key), args=[repr(now), step, burst, block_for])
        except self._errors as exc:
            self._down(exc)
            return None
        return self._result(ms)

    def _result(self, ms: Any) -> tuple[float, bool]:
        self._warned = False
        value = int(ms)
        return abs(value) / 1000, value < 0

    def _down(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning("guard: Redis unreachable (%s); counting locally", type(exc).__name__)

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._aclient.aclose()
