"""The data-cap measure in Lua, shared by the commit scripts (#13).

``COMMIT`` (:mod:`.redis_scripts`) and the lean ``PATCH_DATA``
(:mod:`.redis_lean`) both refuse a patch that would leave a session's stored
data above its ``max_bytes``; they measure it with this one function, so the
two paths can never disagree about what fits.
"""

from __future__ import annotations

__all__ = ["OVER_CAP"]

#: Shared by ``COMMIT`` and the lean ``PATCH_DATA`` (.redis_lean): true when
#: the sets at ARGV[s..] (nset entries) and deletes at ARGV[d..] (ndel) would
#: leave the hash's data fields (``d:`` names) above ``cap`` bytes, measured as
#: the core measures them (name + value bytes + 4 per field; the stored name
#: carries the 2-byte prefix, so +2 here).
OVER_CAP = r"""
local function over_cap(key, cap, s, nset, d, ndel)
  local done, total = {}, 0
  for j = d, d + ndel - 1 do done[ARGV[j]] = true end
  for j = s, s + nset - 1, 2 do
    local name = ARGV[j]
    if string.sub(name, 1, 2) == 'd:' then
      if not done[name] then total = total + #name + 2 + #ARGV[j + 1] end
      done[name] = true
    end
  end
  local f = redis.call('HGETALL', key)
  for j = 1, #f, 2 do
    local name = f[j]
    if string.sub(name, 1, 2) == 'd:' and not done[name] then
      total = total + #name + 2 + #f[j + 1]
    end
  end
  return total > cap
end
"""
