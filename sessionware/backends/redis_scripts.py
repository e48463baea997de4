"""The Lua scripts behind :class:`~sessionware.backends.redis.RedisBackend`.

Every script starts with ``ARGV[1] = now`` (Unix seconds, as text) and the
shared functions below, so "live" means the same thing everywhere: a session
hash whose ``_e`` field (``expires_at``) is later than ``now``.  Redis also
drops the hash by itself at that moment (``PEXPIREAT``), but the check makes
expiry exact to the microsecond and independent of when Redis gets round to
it (EX-05).

Key layout (``P`` is the prefix; see :mod:`.redis_layout`)::

    P s:<key>     hash    one session: metadata fields start with "_",
                          data "d:<name>", info "i:<name>", extra "x:<name>"
    P h:<handle>  string  the storage key of the session with that handle
    P u:<user>    zset    storage keys of a user's sessions, scored by each
                          record's *index deadline* max(expires_at, absolute_at)
    P t:<key>     string  the tombstone of an ended signed-in session (JSON,
                          :meth:`~sessionware.records.Tombstone.dumps`), or the
                          expiry companion written at creation; expires at ``until``
    P tu:<user>   zset    storage keys of a user's tombstones, scored by ``until``
                          (only for erasing them: :meth:`RedisBackend.erase_endings`)

The expiry form costs no write on the hot path: the companion is written with
the record at login or rotation and never touched again, and the session hash
still expires at its deadline, data and all.  A tombstone is not a session:
no reader looks at ``t:`` keys except ``load_ending``.

The index keys are hints that readers verify against the session hash, so a
stale entry can hide nothing and revive nothing; it only costs a lookup until
it is pruned.  Each key expires by itself: a session at ``expires_at``, a
handle at its index deadline, a user zset at its highest score.  Touches move
``expires_at`` only, which never passes ``absolute_at``, so a touch never has
to update an index (on Redis Cluster the indexes live in other slots).

``COMMIT`` (single node) runs a whole commit atomically and may touch keys it
did not declare (evicted sessions, index entries), which standalone Redis
allows.  The small per-slot scripts are for Redis Cluster, where the client
pipelines them to the nodes owning each key.  Only Redis >= 6.0 commands are
used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .redis_cap import OVER_CAP
from .redis_carry import CARRY, TAKE_CARRY_BODY

__all__ = [
    "BY_USER",
    "COMMIT",
    "CREATE",
    "PATCH",
    "REBURY",
    "TAKE",
    "TAKE_CARRY",
    "UNCOMPANION",
    "UNLINK_HANDLE",
    "USER",
    "LuaScript",
]


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A script and its SHA1, for ``EVALSHA`` with an ``EVAL`` fallback on NOSCRIPT."""

    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha", digest)


_FUNCS = (
    OVER_CAP
    + r"""
local now = tonumber(ARGV[1])

local function alive(key)
  local e = tonumber(redis.call('HGET', key, '_e'))
  return e ~= nil and e > now
end

local function ms(seconds)
  return string.format('%.0f', math.ceil(seconds * 1000))
end

-- HSET / HDEL with ARGV[first..last], in chunks that stay below Lua's stack limit.
local function hcall(cmd, key, first, last)
  local i = first
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call(cmd, key, unpack(ARGV, i, j))
    i = j + 1
  end
end

-- Write a fresh record (the caller checked the key is free).
local function put(key, exp_ms, first, last)
  redis.call('DEL', key)
  hcall('HSET', key, first, last)
  redis.call('PEXPIREAT', key, exp_ms)
end

-- Delete a record; returns its handle, its user and whether it was live.
local function take(key)
  local f = redis.call('HMGET', key, '_h', '_u', '_e')
  redis.call('DEL', key)
  return f[1], f[2], (tonumber(f[3]) or 0) > now
end

-- Maintain a user zset: remove, add, prune entries past their deadline, and
-- let the key expire with its last member.
local function user_index(ukey, add, score, first, last)
  if first <= last then redis.call('ZREM', ukey, unpack(ARGV, first, last)) end
  if add then redis.call('ZADD', ukey, score, add) end
  redis.call('ZREMRANGEBYSCORE', ukey, '-inf', ARGV[1])
  local top = redis.call('ZRANGE', ukey, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', ukey, ms(tonumber(top[2]))) end
end

-- The argument block of a patch starting at ARGV[i]:
--   exp_ms|'', max_bytes|'', nset, field, value..., ndel, field..., nexpect, field, json...
-- Returns where the sets, deletes and expects start, their counts, and the next index.
local function span(i)
  local nset = tonumber(ARGV[i + 2])
  local s = i + 3
  local ndel = tonumber(ARGV[s + nset])
  local d = s + nset + 1
  local nexp = tonumber(ARGV[d + ndel])
  local x = d + ndel + 1
  return s, nset, d, ndel, x, x + nexp
end

-- True when the patch at ARGV[i] would push the live record's data past its
-- max_bytes: the stored data fields it leaves alone plus the ones it sets,
-- each measured as the core measures them (name + value bytes + 4).
local function too_large(key, i)
  if ARGV[i + 1] == '' then return false end
  local s, nset, d, ndel = span(i)
  if nset == 0 or not alive(key) then return false end
  return over_cap(key, tonumber(ARGV[i + 1]), s, nset, d, ndel)
end

-- Apply a patch whose arguments start at ARGV[i] (see span).
-- Returns the next argument index, whether it applied, and, when the record's
-- index deadline or user changed, {handle, old user, new user, deadline}.
local function patch(key, i)
  local s, nset, d, ndel, x, nxt = span(i)
  local before = redis.call('HMGET', key, '_e', '_a', '_u', '_h')
  local e = tonumber(before[1])
  if e == nil or e <= now then return nxt, false end
  for j = x, nxt - 1, 2 do
    if (redis.call('HGET', key, ARGV[j]) or 'null') ~= ARGV[j + 1] then return nxt, false end
  end
  if nset > 0 then hcall('HSET', key, s, s + nset - 1) end
  if ndel > 0 then hcall('HDEL', key, d, d + ndel - 1) end
  if ARGV[i] ~= '' then redis.call('PEXPIREAT', key, ARGV[i]) end
  local after = redis.call('HMGET', key, '_e', '_a', '_u')
  local old_idx = math.max(e, tonumber(before[2]) or 0)
  local new_idx = math.max(tonumber(after[1]) or 0, tonumber(after[2]) or 0)
  if old_idx == new_idx and before[3] == after[3] then return nxt, true end
  return nxt, true, {before[4], before[3], after[3], string.format('%.17g', new_idx)}
end
"""
)

#: Single node: ARGV = now, prefix, then ops:
#:   C key handle user|'' exp_ms score idx_ms max|'' replaces|'' n fields...
#:     tomb|'' until user  companion|'' until keep_for|''  ''|M <patch block>
#:     (M: carry the replaced hash's data, see .redis_carry; no d: fields then)
#:   P key <patch args>
#:   D key tomb|'' until user
#: Returns {ok, evicted handle...}, or {2} when a patch or a carrying create
#: would pass its max_bytes (checked for each before any op writes: nothing applied).
COMMIT = LuaScript(
    "commit",
    _FUNCS
    + CARRY
    + r"""
local prefix = ARGV[2]
local ok = 1
local evicted = {}
local function sk(k) return prefix .. 's:' .. k end
local function hk(h) return prefix .. 'h:' .. h end
local function uk(u) return prefix .. 'u:' .. u end
local function tk(k) return prefix .. 't:' .. k end
local function tuk(u) return prefix .. 'tu:' .. u end
local function bury(k, tomb, till, user)
  if tomb == '' then
    -- ended for no recorded reason: drop a companion that would claim an expiry
    local v = redis.call('GET', tk(k))
    if v and string.sub(v, 1, 13) == '{"r":"expiry"' then redis.call('DEL', tk(k)) end
    return
  end
  redis.call('SET', tk(k), tomb)
  redis.call('PEXPIREAT', tk(k), ms(tonumber(till)))
  if user ~= '' then user_index(tuk(user), k, till, 1, 0) end
end
local function unlink(handle, user, k)
  if handle and redis.call('GET', hk(handle)) == k then redis.call('DEL', hk(handle)) end
  if user then redis.call('ZREM', uk(user), k) end
end
local function evict(user, limit, keep)
  local ukey = uk(user)
  local live = {}
  for _, m in ipairs(redis.call('ZRANGE', ukey, 0, -1)) do
    local f = redis.call('HMGET', sk(m), '_e', '_c')
    if (tonumber(f[1]) or 0) > now then
      live[#live + 1] = {tonumber(f[2]), m}
    else
      redis.call('ZREM', ukey, m)
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  for j = 1, #live - limit do
    local vk = live[j][2]
    local ar = redis.call('HMGET', sk(vk), '_a', '_r')
    local h, u = take(sk(vk))
    unlink(h, u, vk)
    evicted[#evicted + 1] = h
    if keep ~= '' and h and u then
      local life = tonumber(keep)
      if ar[2] == '1' then life = math.min(life, math.max(tonumber(ar[1]) - now, 0) + 60) end
      local untl = string.format('%.17g', now + life)
      local tomb = '{"r":"evicted","h":' .. cjson.encode(h) .. ',"u":' .. cjson.encode(u)
        .. ',"t":' .. ARGV[1] .. ',"e":' .. untl .. ',"b":"limit"}'
      bury(vk, tomb, untl, u)
    end
  end
  user_index(ukey, false, 0, 1, 0)
end

local i = 3
while i <= #ARGV do
  if ARGV[i] == 'C' then
    local old, c = ARGV[i + 8], i + 10 + tonumber(ARGV[i + 9]) + 6  -- fields, 6 tomb slots
    i = c + 1
    if ARGV[c] == 'M' then
      if old ~= '' and too_large(sk(old), c + 1) then return {2} end
      local _, _, _, _, _, nxt = span(c + 1)
      i = nxt
    end
  elseif ARGV[i] == 'P' then
    if too_large(sk(ARGV[i + 1]), i + 2) then return {2} end
    local _, _, _, _, _, nxt = span(i + 2)
    i = nxt
  else
    i = i + 5  -- D key tomb until user
  end
end

i = 3
while i <= #ARGV do
  local op, k = ARGV[i], ARGV[i + 1]
  if op == 'C' then
    local h, u, exp, score, idx_ms = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
    local max, old, first = ARGV[i + 7], ARGV[i + 8], i + 10
    local t = first + tonumber(ARGV[i + 9])
    local kept, c = nil, t + 6
    i = c + 1
    if ARGV[c] == 'M' then
      local _, _, _, _, _, nxt = span(c + 1)
      i = nxt
    end
    if alive(sk(k)) or (old ~= '' and not alive(sk(old))) then
      ok = 0
    else
      if old ~= '' then
        if ARGV[c] == 'M' then kept = data_of(sk(old)) end
        local oh, ou = take(sk(old))
        unlink(oh, ou, old)
        bury(old, ARGV[t], ARGV[t + 1], ARGV[t + 2])
      end
      put(sk(k), exp, first, t - 1)
      if kept then carry(sk(k), kept, c + 1) end
      redis.call('SET', hk(h), k)
      redis.call('PEXPIREAT', hk(h), idx_ms)
      if u ~= '' then
        user_index(uk(u), k, score, 1, 0)
        if ARGV[t + 3] ~= '' then bury(k, ARGV[t + 3], ARGV[t + 4], u) end
        if max ~= '' then evict(u, tonumber(max), ARGV[t + 5]) end
      end
    end
  elseif op == 'P' then
    local good, re
    i, good, re = patch(sk(k), i + 2)
    if not good then
      ok = 0
    elseif re then
      local h, old_u, new_u, idx = re[1], re[2], re[3], tonumber(re[4])
      if h then redis.call('PEXPIREAT', hk(h), ms(idx)) end
      if old_u and old_u ~= new_u then redis.call('ZREM', uk(old_u), k) end
      if new_u then
        redis.call('ZADD', uk(new_u), re[4], k)
        user_index(uk(new_u), false, 0, 1, 0)
      end
    end
  else
    local h, u = take(sk(k))
    unlink(h, u, k)
    bury(k, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
    i = i + 5
  end
end
return {ok, unpack(evicted)}
""",
)

#: Single node: KEYS = user zset; ARGV = now, prefix.  Prunes dead members and
#: returns {key, {hash fields...}, ...} for the live ones.
BY_USER = LuaScript(
    "by_user",
    _FUNCS
    + r"""
local ukey, out = KEYS[1], {}
for _, m in ipairs(redis.call('ZRANGE', ukey, 0, -1)) do
  local key = ARGV[2] .. 's:' .. m
  if alive(key) then
    out[#out + 1] = m
    out[#out + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', ukey, m)
  end
end
user_index(ukey, false, 0, 1, 0)
return out
""",
)

#: Cluster: KEYS = session; ARGV = now, exp_ms, fields...  1 if written, 0 if taken.
CREATE = LuaScript(
    "create",
    _FUNCS
    + r"""
if alive(KEYS[1]) then return 0 end
put(KEYS[1], ARGV[2], 3, #ARGV)
return 1
""",
)

#: Cluster: KEYS = session; ARGV = now.  Deletes it; returns {live, handle, user}.
TAKE = LuaScript(
    "take",
    _FUNCS
    + r"""
local h, u, live = take(KEYS[1])
return {live and 1 or 0, h, u}
""",
)

#: Cluster: the replaced session of a carrying rotation (see .redis_carry).
TAKE_CARRY = LuaScript("take_carry", _FUNCS + CARRY + TAKE_CARRY_BODY)

#: Cluster: KEYS = session; ARGV = now, <patch args>.  Returns {ok} or
#: {1, handle, old user, new user, deadline} when the indexes need updating,
#: or {2} (nothing written) when the patch would pass its max_bytes.
PATCH = LuaScript(
    "patch",
    _FUNCS
    + r"""
if too_large(KEYS[1], 2) then return {2} end
local _, good, re = patch(KEYS[1], 2)
if not good then return {0} end
if not re then return {1} end
return {1, re[1], re[2], re[3], re[4]}
""",
)

#: Cluster: KEYS = user zset; ARGV = now, add member|'', score, members to remove...
#: Returns the remaining members, lowest deadline first.
USER = LuaScript(
    "user",
    _FUNCS
    + r"""
local add = ARGV[2] ~= '' and ARGV[2]
user_index(KEYS[1], add, ARGV[3], 4, #ARGV)
return redis.call('ZRANGE', KEYS[1], 0, -1)
""",
)

#: Cluster: KEYS = handle key; ARGV = now, storage key.  Deletes it if it still
#: points at that key (a rotation may have moved it on).
UNLINK_HANDLE = LuaScript(
    "unlink_handle",
    r"""
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
""",
)

#: Cluster: KEYS = tombstone key; ARGV = now, tombstone, until_ms.  Writes it
#: unless a real tombstone is there already (a rotation whose old session was
#: revoked in flight keeps the revocation's); an expiry companion is replaced.
REBURY = LuaScript(
    "rebury",
    r"""
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 13) ~= '{"r":"expiry"' then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
""",
)

#: Cluster: KEYS = tombstone key; ARGV = now.  Deletes an expiry companion only.
UNCOMPANION = LuaScript(
    "uncompanion",
    r"""
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 13) == '{"r":"expiry"' then return redis.call('DEL', KEYS[1]) end
return 0
""",
)
