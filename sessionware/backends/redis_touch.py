"""Which reads can skip the touch script: a plain ``HGETALL`` whenever a touch cannot be due.

A read that may slide the expiry runs the ``LOAD_TOUCH`` script, so a
sliding read stays one round trip.  But a script costs Redis several times a
native ``HGETALL`` (measured: about 15-25 us of server time against 3 us for
a session of a dozen fields, most of it moving the hash through Lua), and a
touch is due at most once per ``Touch.after`` seconds per session.

So the backend remembers, for the sessions it read recently, the
``last_active`` it saw.  ``last_active`` only ever moves forward (a touch
and every commit set it to their ``now``), so if ``now - seen < after`` the
stored value gives the same answer and the touch is certainly not due: the
read is sent as ``HGETALL``.  Otherwise (never seen, forgotten, or due) the
script runs as before.  The memory holds timestamps only, never session data,
and a wrong or missing entry can only cost the script, never skip a due
touch.  It is bounded (oldest entries dropped first).

The script itself lives here too (:data:`LOAD_TOUCH`): it is the touch's
other half, and it uses none of the commit scripts' shared functions.
"""

from __future__ import annotations

import contextlib

from ..records import Record, Touch
from .redis_scripts import LuaScript

__all__ = ["LOAD_TOUCH", "TouchMemo"]

#: Sessions remembered per backend (about 100 bytes each).
DEFAULT_ENTRIES = 10_000


class TouchMemo:
    """``last_active`` of recently read sessions, keyed by storage key."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int = DEFAULT_ENTRIES) -> None:
        self._limit = limit
        self._seen: dict[str, float] = {}

    def needed(self, key: str, now: float, touch: Touch | None) -> Touch | None:
        """``touch`` if it may be due for ``key`` at ``now``, else None (a plain read)."""
        if touch is None:
            return None
        seen = self._seen.get(key)
        if seen is not None and now - seen < touch.after:
            return None
        return touch

    def saw(self, key: str, record: Record | None) -> None:
        """Remember what a read returned (a missing session is forgotten)."""
        if record is None:
            self._seen.pop(key, None)
            return
        seen = self._seen
        seen[key] = record.last_active
        if len(seen) > self._limit:
            # Another thread may change it meanwhile: then it trims next time.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del seen[next(iter(seen))]


#: KEYS = session; ARGV = now, touch after, idle, remember idle.  ``HGETALL``
#: that also slides a live, due session's idle deadline (``Touch``), so a read
#: that touches is still one round trip.  Returns the (updated) hash fields.
LOAD_TOUCH = LuaScript(
    "load_touch",
    r"""
local now = tonumber(ARGV[1])
local f = redis.call('HGETALL', KEYS[1])
local l, e, a, r, li, ei
for i = 1, #f, 2 do
  local k = f[i]
  if k == '_l' then l = tonumber(f[i + 1]); li = i + 1
  elseif k == '_e' then e = tonumber(f[i + 1]); ei = i + 1
  elseif k == '_a' then a = tonumber(f[i + 1])
  elseif k == '_r' then r = f[i + 1] end
end
if not (l and e and a) or e <= now then return f end
local idle = tonumber(ARGV[3])
if r == '1' then idle = tonumber(ARGV[4]) end
if now - l < tonumber(ARGV[2]) or now >= l + idle then return f end
local ne = math.min(now + idle, a)
local es = string.format('%.6f', ne)
redis.call('HSET', KEYS[1], '_l', ARGV[1], '_e', es)
redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.ceil(ne * 1000)))
f[li] = ARGV[1]
f[ei] = es
return f
""",
)
