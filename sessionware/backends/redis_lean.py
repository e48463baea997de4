"""The commit most requests make, sent lean: one data patch, one small script.

Most commits are a single :class:`~sessionware.records.Patch` of data fields
and activity times (``last_active``, ``expires_at``).  Such a patch cannot
move the session's index deadline (``max(expires_at, absolute_at)``, and
``expires_at`` never passes ``absolute_at``) nor its user, so it needs no
index bookkeeping: the ``PATCH_DATA`` script below checks the session is
live, checks ``expect``, sets and deletes the fields and moves the key's TTL,
and touches no other key.  Every Redis call a script makes costs server time
(several microseconds each, measured in ``benchmarks/bench_redis.py``), so it
reads one field where ``COMMIT`` reads eight.

Anything else (creates, deletes, several ops, a patch of ``user_id`` or
``absolute_at``, or a ``Patch`` field this module does not know, such as
one added later) goes to ``COMMIT`` as before.  The argument block is
:func:`.redis_layout.patch_args`, the one ``COMMIT``'s ``patch`` reads, so
both paths write the same hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..records import Op, Patch
from .redis_cap import OVER_CAP
from .redis_layout import Layout, patch_args
from .redis_scripts import LuaScript

__all__ = ["PATCH_DATA", "lean_patch"]

#: KEYS = session; ARGV = now, <patch args>.  1 if applied, 0 if the session
#: is gone or expired or an ``expect`` failed, 2 if the patch would push the
#: stored data past its ``max_bytes`` (nothing written; measured as
#: ``COMMIT``'s ``too_large`` measures it: name + value bytes + 4 per field).
PATCH_DATA = LuaScript(
    "patch_data",
    OVER_CAP
    + r"""
local now = tonumber(ARGV[1])
local e = tonumber(redis.call('HGET', KEYS[1], '_e'))
if e == nil or e <= now then return 0 end
local cap = ARGV[3]
local nset = tonumber(ARGV[4])
local s = 5
local ndel = tonumber(ARGV[s + nset])
local d = s + nset + 1
local nexp = tonumber(ARGV[d + ndel])
local x = d + ndel + 1
for j = x, x + nexp - 1, 2 do
  if (redis.call('HGET', KEYS[1], ARGV[j]) or 'null') ~= ARGV[j + 1] then return 0 end
end
if cap ~= '' and nset > 0 and over_cap(KEYS[1], tonumber(cap), s, nset, d, ndel) then
  return 2
end
local function chunks(cmd, first, last)
  local i = first
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call(cmd, KEYS[1], unpack(ARGV, i, j))
    i = j + 1
  end
end
if nset > 0 then chunks('HSET', s, s + nset - 1) end
if ndel > 0 then chunks('HDEL', d, d + ndel - 1) end
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
""",
)

#: The ``Patch`` fields this path understands; a patch using any other field
#: (one added after this was written) is sent to ``COMMIT``.
_KNOWN = frozenset({"key", "set", "delete", "meta", "extra", "expect", "max_bytes"})
_OTHER = tuple(f for f in dataclasses.fields(Patch) if f.name not in _KNOWN)
_INDEXED = ("user_id", "absolute_at")


def _defaulted(op: Patch) -> bool:
    for f in _OTHER:
        value = getattr(op, f.name)
        if f.default is not dataclasses.MISSING:
            if value != f.default:
                return False
        elif f.default_factory is not dataclasses.MISSING:
            if value != f.default_factory():
                return False
        else:
            return False
    return True


def lean_patch(layout: Layout, ops: Sequence[Op], now: float) -> tuple[str, tuple[str, ...]] | None:
    """``(session key, ARGV)`` for ``PATCH_DATA`` when ``ops`` is one data patch, else None."""
    if len(ops) != 1:
        return None
    op = ops[0]
    if not isinstance(op, Patch) or any(name in op.meta for name in _INDEXED):
        return None
    if _OTHER and not _defaulted(op):
        return None
    return layout.session(op.key), (repr(now), *patch_args(op))
