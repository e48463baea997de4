"""Rotations that carry the session's data over, on Redis (issue #18).

A rotation (regenerate, renewal) used to write the data its own request had
loaded under the new ID, so a parallel request's write to another key,
committed in between, was lost.  A carrying :class:`~sessionware.records.Create`
sends only that request's changes, and the store builds the new data from
the replaced hash *as it is when the rotation runs*: its data fields, then
the request's sets, then its deletes.

Single node: the ``COMMIT`` script does it with the functions in
:data:`CARRY`, in the same script that checks the old hash is live and
deletes it, so nothing can land in between.

Redis Cluster: the old and new hashes live in unrelated slots, so the
``TAKE_CARRY`` script (its body is :data:`TAKE_CARRY_BODY`) deletes the old
hash and returns its data fields in one step, on the old hash's node: a
patch to the old ID either ran before it (and is in the reply) or finds the
hash gone (and fails).  The planner then writes the carried data into the
successor (:func:`successor_patch`).  Until that follow-up round trip the
successor holds the rotating request's own view, which only a request
following the "rotated" tombstone within the grace period can see.

Both check the data cap on the carried result first (``over_cap`` of
:mod:`.redis_cap`, via ``too_large``) and write nothing above it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..records import Create, Patch

__all__ = ["CARRY", "TAKE_CARRY_BODY", "carried_fields", "carry_args", "successor_patch"]

#: Lua, after the shared functions of :mod:`.redis_scripts` (``span``, ``hcall``).
#: ``data_of`` lists a hash's data fields flat; ``carry`` writes them into
#: the new hash ``to``, then the sets and deletes of the patch block at ARGV[b].
CARRY = r"""
local function data_of(key)
  local f, out = redis.call('HGETALL', key), {}
  for j = 1, #f, 2 do
    if string.sub(f[j], 1, 2) == 'd:' then
      out[#out + 1] = f[j]
      out[#out + 1] = f[j + 1]
    end
  end
  return out
end

local function carry(to, kept, b)
  local j = 1
  while j <= #kept do
    local last = math.min(j + 999, #kept)
    redis.call('HSET', to, unpack(kept, j, last))
    j = last + 1
  end
  local s, nset, d, ndel = span(b)
  if nset > 0 then hcall('HSET', to, s, s + nset - 1) end
  if ndel > 0 then hcall('HDEL', to, d, d + ndel - 1) end
end
"""

#: Cluster: KEYS = the replaced session; ARGV = now, <patch block> (see
#: :func:`carry_args`).  When the carried data would pass the cap it writes
#: nothing and returns {2, handle, user, expires_at, absolute_at, remember}
#: (what the planner needs to point the indexes back at the old record);
#: else it deletes the hash and returns {live, handle, user, data field,
#: value...} (no data when it was not live).
TAKE_CARRY_BODY = r"""
if too_large(KEYS[1], 2) then
  local f = redis.call('HMGET', KEYS[1], '_h', '_u', '_e', '_a', '_r')
  return {2, f[1], f[2], f[3], f[4], f[5]}
end
local kept = data_of(KEYS[1])
local h, u, live = take(KEYS[1])
if not live then return {0, h, u} end
local out = {1, h, u}
for j = 1, #kept do out[#out + 1] = kept[j] end
return out
"""


def carry_args(op: Create) -> list[str]:
    """A carrying Create's changes as a patch block for ``span`` and ``too_large``:
    ``'', max|'', nset, "d:"name, text..., ndel, "d:"name..., 0`` (no expects)."""
    sets: list[str] = []
    for name, text in op.set.items():
        sets += ("d:" + name, text)
    dels = ["d:" + name for name in op.delete]
    cap = "" if op.max_bytes is None else str(op.max_bytes)
    return ["", cap, str(len(sets)), *sets, str(len(dels)), *dels, "0"]


def carried_fields(flat: list[str]) -> dict[str, str]:
    """``TAKE_CARRY``'s data fields (after live, handle, user) as ``{name: text}``."""
    return {name[2:]: text for name, text in zip(flat[::2], flat[1::2], strict=True)}


def successor_patch(op: Create, stored: Mapping[str, str]) -> Patch | None:
    """What turns the successor's data (the request's view, as created) into the
    carried data, or None when they already agree."""
    view = op.record.data
    data = op.carried(stored)
    sets = {name: text for name, text in data.items() if view.get(name) != text}
    gone = tuple(name for name in view if name not in data)
    if not sets and not gone:
        return None
    return Patch(op.record.key, set=sets, delete=gone)
