"""What each backend call sends to Redis, written once for both faces.

A *plan* is a generator that yields a batch of commands, receives the batch's
replies, and finally returns the call's result.  Each ``yield`` is one round
trip: a batch of one is sent as a plain command, a larger batch as one
non-transactional pipeline (on Redis Cluster, one pipeline per node, sent in
parallel).  The sync face drives a plan with a blocking client and the async
face with an asyncio client, so the logic below exists once and neither face
bridges to the other (DESIGN: no sync/async bridges in the request path).

Single node: ``load`` and ``apply`` are one round trip each, and ``apply`` is
atomic (one Lua script for the whole commit).

Redis Cluster: a session, its handle key and its user index live in three
unrelated slots, so no script may touch them together.  ``load`` is still one
``HGETALL``, and a commit is one pipelined batch of per-slot scripts.  Index
bookkeeping that depends on what a script found (the old user of a deleted
session, eviction beyond ``max_per_user``) follows in later batches; readers
verify every index entry against the session hash, so an index that lags for
a round trip can neither hide a live session nor show a dead one.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from ..records import (
    APPLIED,
    ApplyResult,
    Create,
    Op,
    Patch,
    Record,
    Tombstone,
    Touch,
    companion,
    ended,
)
from .redis_carry import carried_fields, carry_args, successor_patch
from .redis_layout import (
    Layout,
    commit_args,
    companion_args,
    index_deadline,
    ms,
    pairs,
    parse,
    patch_args,
)
from .redis_layout import record_fields as fields_of
from .redis_lean import PATCH_DATA, lean_patch
from .redis_scripts import (
    BY_USER,
    COMMIT,
    CREATE,
    PATCH,
    REBURY,
    TAKE,
    TAKE_CARRY,
    UNCOMPANION,
    UNLINK_HANDLE,
    USER,
    LuaScript,
)
from .redis_touch import LOAD_TOUCH

__all__ = [
    "Call",
    "Command",
    "Plan",
    "apply",
    "by_user",
    "erase_endings",
    "load",
    "load_ending",
    "load_handle",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """A Lua script invocation (sent as ``EVALSHA``, falling back to ``EVAL``)."""

    script: LuaScript
    keys: tuple[str, ...]
    args: tuple[Any, ...]


Command: TypeAlias = tuple[Any, ...] | Call
Plan: TypeAlias = Generator[list[Command], list[Any], T]


def load(layout: Layout, key: str, now: float, touch: Touch | None = None) -> Plan[Record | None]:
    """One ``HGETALL`` (or the ``LOAD_TOUCH`` script that also slides a due
    session's expiry); expiry is checked here, to the microsecond (EX-05)."""
    if touch is None:
        (fields,) = yield [("HGETALL", layout.session(key))]
    else:
        args = (repr(now), repr(touch.after), repr(touch.idle), repr(touch.remember_idle))
        (flat,) = yield [Call(LOAD_TOUCH, (layout.session(key),), args)]
        fields = pairs(flat) if flat else {}
    return parse(key, fields, now) if fields else None


def load_handle(layout: Layout, handle: str, now: float) -> Plan[Record | None]:
    """Follow the handle key, then check the record still carries that handle."""
    (key,) = yield [("GET", layout.handle(handle))]
    if key is None:
        return None
    record = yield from load(layout, key, now)
    return record if record is not None and record.handle == handle else None


def load_ending(layout: Layout, key: str, now: float) -> Plan[Tombstone | None]:
    """One ``GET`` of the tombstone key; ``until`` is checked here, like ``expires_at``."""
    (text,) = yield [("GET", layout.tomb(key))]
    tomb = None if text is None else Tombstone.loads(key, text)
    return tomb if tomb is not None and tomb.until > now else None


def erase_endings(layout: Layout, user_id: str) -> Plan[int]:
    """Delete the tombstones listed in the user's ``tu:`` index that are that user's."""
    ukey = layout.user_tombs(user_id)
    (members,) = yield [("ZRANGE", ukey, 0, -1)]
    if not members:
        return 0
    texts = yield [("GET", layout.tomb(m)) for m in members]
    doomed = []
    for key, text in zip(members, texts, strict=True):
        tomb = None if text is None else Tombstone.loads(key, text)
        if tomb is not None and tomb.user_id == user_id:
            doomed.append(layout.tomb(key))
    yield [*(("DEL", k) for k in doomed), ("DEL", ukey)]
    return len(doomed)


def _bury(layout: Layout, tomb: Tombstone, t: str) -> list[Command]:
    """A tombstone's writes for a cluster batch: the value, its expiry, the user index."""
    out: list[Command] = [
        ("SET", layout.tomb(tomb.key), tomb.dumps()),
        ("PEXPIREAT", layout.tomb(tomb.key), ms(tomb.until)),
    ]
    if tomb.user_id is not None:
        index = (t, tomb.key, repr(float(tomb.until)))
        out.append(Call(USER, (layout.user_tombs(tomb.user_id),), index))
    return out


def by_user(layout: Layout, user_id: str, now: float, cluster: bool) -> Plan[list[Record]]:
    """Live records of a user, oldest first; dead index entries are pruned (TM-05)."""
    ukey, t = layout.user(user_id), repr(now)
    found: list[tuple[str, dict[str, str]]] = []
    if not cluster:
        (flat,) = yield [Call(BY_USER, (ukey,), (t, layout.prefix))]
        found = [(k, pairs(f)) for k, f in zip(flat[::2], flat[1::2], strict=True)]
    else:
        (members,) = yield [Call(USER, (ukey,), (t, "", ""))]
        if members:
            hashes = yield [("HGETALL", layout.session(m)) for m in members]
            found = list(zip(members, hashes, strict=True))
    live: list[Record] = []
    dead: list[str] = []
    for key, fields in found:
        record = parse(key, fields, now) if fields else None
        if record is not None and record.user_id == user_id:
            live.append(record)
        else:
            dead.append(key)
    if dead and cluster:
        yield [Call(USER, (ukey,), (t, "", "", *dead))]
    live.sort(key=lambda r: r.created_at)
    return live


def apply(layout: Layout, ops: Sequence[Op], now: float, cluster: bool) -> Plan[ApplyResult]:
    """A commit: one atomic script on a single node, one pipelined batch on a cluster."""
    lean = lean_patch(layout, ops, now)
    if lean is not None:  # the common commit: one data patch, no index to keep (.redis_lean)
        (applied,) = yield [Call(PATCH_DATA, (lean[0],), lean[1])]
        if applied == 1:
            return APPLIED
        return ApplyResult(False, (), applied == 2)  # 2: the data cap, nothing applied
    if not cluster:
        (reply,) = yield [Call(COMMIT, (), tuple(commit_args(layout, ops, now)))]
        if reply == [1]:
            return APPLIED
        if reply == [2]:
            return ApplyResult(False, (), True)  # the data cap: nothing applied
        return ApplyResult(reply[0] == 1, tuple(h for h in reply[1:] if h))
    return (yield from _apply_cluster(layout, ops, now))


def _apply_cluster(layout: Layout, ops: Sequence[Op], now: float) -> Plan[ApplyResult]:
    # Batch 1, for each op (on rotation the new record is listed, and so
    # written, before the old one is taken away):
    #   Create: CREATE new, [TAKE old], SET+PEXPIREAT handle, [USER add new, drop old]
    #     (a carrying rotation: TAKE_CARRY old, and in batch 2 a PATCH of the
    #     successor with the data it returned, or {2}: over the cap, undone)
    #   Patch:  PATCH          Delete: TAKE
    # A PATCH past its max_bytes writes nothing and answers {2} (atomic per
    # session key; the planner never batches a capped patch with other ops).
    t = repr(now)
    batch: list[Command] = []
    extra: list[Command] = []
    early: list[Command] = []
    early_at: dict[int, int] = {}
    starts: list[int] = []
    for i, op in enumerate(ops):
        starts.append(len(batch))
        if isinstance(op, Create):
            rec = op.record
            idx = index_deadline(rec)
            new = (t, ms(rec.expires_at), *fields_of(rec))
            create: list[Command] = [
                Call(CREATE, (layout.session(rec.key),), new),
                ("SET", layout.handle(rec.handle), rec.key),
                ("PEXPIREAT", layout.handle(rec.handle), ms(idx)),
            ]
            if op.replaces is not None and op.tombstone is not None:
                # A rotation leaving a tombstone: the successor and the tombstone
                # first, in a round trip of their own (see below); the old record's
                # TAKE and the handle's move follow, by the rotation that won.
                early_at[i] = len(early)
                early.append(create[0])
                batch.append(_take_old(layout, op, op.replaces, t))
                batch.extend(create[1:])
            else:
                batch.append(create[0])
                if op.replaces is not None:
                    batch.append(_take_old(layout, op, op.replaces, t))
                batch.extend(create[1:])
            if rec.user_id is not None:
                drop = () if op.replaces is None else (op.replaces,)
                index = (t, rec.key, repr(idx), *drop)
                batch.append(Call(USER, (layout.user(rec.user_id),), index))
            early.extend(_rotation_tomb(layout, op, t))
            extra.extend(_companion_of(layout, op, t))
        elif isinstance(op, Patch):
            batch.append(Call(PATCH, (layout.session(op.key),), (t, *patch_args(op))))
        else:
            batch.append(Call(TAKE, (layout.session(op.key),), (t,)))
            if op.tombstone is not None:
                extra.extend(_bury(layout, op.tombstone, t))
            else:
                extra.append(Call(UNCOMPANION, (layout.tomb(op.key),), (t,)))
    # Tombstones ride in the same batch as their endings (after every op's own commands).
    early_replies: list[Any] = []
    lost: set[int] = set()
    if early:
        # A rotation goes first: commands to different slots in one batch run in
        # parallel, so a request arriving between the TAKE of the old record and
        # the writes of the successor and the "rotated" tombstone would find
        # neither and be signed out (FX-07: the old ID must reach its successor).
        early_replies = yield early
        for i, at in early_at.items():
            # The tombstone names one successor, so only the rotation whose REBURY
            # wrote it may take the old record and move its handle.  Concurrent
            # renewals otherwise raced on TAKE, and the tombstone could name a
            # loser's successor, undone: the old ID's grace window then signed
            # the browser out.  A loser reads instead (same reply count) and is
            # undone below, as one that found the old record gone.
            if early_replies[at + 1] != 1:
                lost.add(i)
                take, rotation = starts[i], ops[i]
                assert isinstance(rotation, Create)  # early_at holds rotations only
                old_key = layout.session(str(rotation.replaces))
                batch[take : take + 3] = [("EXISTS", old_key)] * 3
    replies = yield batch + extra

    # Batch 2: index bookkeeping that depends on what batch 1 found.
    ok = True
    too_large = False
    follow: list[Command] = []
    limits: dict[str, tuple[int, float | None]] = {}

    def unindex(key: str, handle: str | None, user: str | None) -> None:
        if handle is not None:
            follow.append(Call(UNLINK_HANDLE, (layout.handle(handle),), (t, key)))
        if user is not None:
            follow.append(Call(USER, (layout.user(user),), (t, "", "", key)))

    for i, (op, at) in enumerate(zip(ops, starts, strict=True)):
        if isinstance(op, Create):
            rec = op.record
            if op.replaces is not None:
                if i in early_at:
                    created = early_replies[early_at[i]] == 1
                    taken: list[Any] = [0, None, None] if i in lost else replies[at]
                else:
                    created = replies[at] == 1
                    taken = replies[at + 1]
                refused = taken[0] == 2  # the carried data passes the cap: the old one stands
                too_large = too_large or refused
                was_live, old_handle, old_user = (0, None, None) if refused else taken[:3]
                if refused and created:
                    follow.append(("DEL", layout.session(rec.key)))
                    unindex(rec.key, rec.handle, rec.user_id)
                    follow.extend(_restore(layout, op, taken, t))  # after the unindex
                    created = False
                elif was_live != 1 and created:
                    # The old session died meanwhile: undo the new one (never resurrect).
                    follow.append(("DEL", layout.session(rec.key)))
                    unindex(rec.key, rec.handle, rec.user_id)
                    created = False
                elif created:
                    unindex(
                        op.replaces,
                        old_handle if old_handle != rec.handle else None,
                        old_user if old_user != rec.user_id else None,
                    )
                    fix = successor_patch(op, carried_fields(taken[3:])) if op.carry else None
                    if fix is not None:  # the old hash's data as taken (see .redis_carry)
                        args = (t, *patch_args(fix))
                        follow.append(Call(PATCH, (layout.session(rec.key),), args))
            else:
                created = replies[at] == 1
            ok = ok and created
            if created and op.max_per_user is not None and rec.user_id is not None:
                limits[rec.user_id] = (op.max_per_user, op.keep_for)
        elif isinstance(op, Patch):
            reply = replies[at]
            ok = ok and reply[0] == 1
            too_large = too_large or reply[0] == 2
            if len(reply) > 1:
                _, handle, old_user, new_user, deadline = reply
                if handle is not None:
                    follow.append(("PEXPIREAT", layout.handle(handle), ms(float(deadline))))
                if old_user is not None and old_user != new_user:
                    follow.append(Call(USER, (layout.user(old_user),), (t, "", "", op.key)))
                if new_user is not None:
                    follow.append(Call(USER, (layout.user(new_user),), (t, op.key, deadline)))
        else:
            _, handle, user = replies[at]
            unindex(op.key, handle, user)
    if follow:
        yield follow

    evicted: list[str] = []
    for user_id, (limit, keep_for) in limits.items():
        evicted += yield from _evict(layout, user_id, limit, now, keep_for)
    if ok and not evicted:
        return APPLIED
    return ApplyResult(ok, tuple(evicted), too_large)


def _take_old(layout: Layout, op: Create, old: str, t: str) -> Command:
    """The cluster delete of a rotation's old hash; a carrying one returns its data."""
    if op.carry:
        return Call(TAKE_CARRY, (layout.session(old),), (t, *carry_args(op)))
    return Call(TAKE, (layout.session(old),), (t,))


def _restore(layout: Layout, op: Create, taken: list[Any], t: str) -> list[Command]:
    """Point the indexes and the tombstone key back at a rotation's old record,
    which stayed (``TAKE_CARRY`` refused it over the cap): batch 1 already
    moved its handle, user entry and companion to the successor."""
    old = str(op.replaces)
    _, handle, user, expires, absolute, remember = taken
    if expires is None:
        return []  # it died meanwhile: nothing to point back at
    idx = max(float(expires), float(absolute))
    out: list[Command] = []
    if handle is not None:
        out += [("SET", layout.handle(handle), old), ("PEXPIREAT", layout.handle(handle), ms(idx))]
    if user is not None:
        out.append(Call(USER, (layout.user(user),), (t, old, repr(idx))))
        if op.keep_for is not None:  # its expiry companion, where the "rotated" one went
            rec = Record(old, handle, 0, 0, 0, float(absolute), user, remember=remember == "1")
            out.append(("SET", layout.tomb(old), companion(rec, op.keep_for).dumps()))
            out.append(("PEXPIREAT", layout.tomb(old), ms(companion(rec, op.keep_for).until)))
    return out


def _rotation_tomb(layout: Layout, op: Create, t: str) -> list[Command]:
    """A cluster rotation's tombstone for the ID it replaces (unless a real one is there)."""
    out: list[Command] = []
    if op.replaces is not None and op.tombstone is not None:
        tomb = op.tombstone
        args = (t, tomb.dumps(), ms(tomb.until))
        out.append(Call(REBURY, (layout.tomb(op.replaces),), args))
        if tomb.user_id is not None:
            index = (t, tomb.key, repr(float(tomb.until)))
            out.append(Call(USER, (layout.user_tombs(tomb.user_id),), index))
    return out


def _companion_of(layout: Layout, op: Create, t: str) -> list[Command]:
    """A cluster Create's expiry companion for the new record."""
    out: list[Command] = []
    text, until, _ = companion_args(op)
    if text:
        rec = op.record
        out.append(("SET", layout.tomb(rec.key), text))
        out.append(("PEXPIREAT", layout.tomb(rec.key), ms(float(until))))
        index = (t, rec.key, until)
        out.append(Call(USER, (layout.user_tombs(str(rec.user_id)),), index))
    return out


def _evict(
    layout: Layout, user_id: str, limit: int, now: float, keep_for: float | None = None
) -> Plan[list[str]]:
    """``max_per_user`` on a cluster: read the index, then remove the oldest beyond ``limit``.

    Not atomic with the login, but it converges: concurrent logins each see
    their own entry, and whichever reads the index last sees every entry, so
    the user ends with at most ``limit`` sessions (TM-06).
    """
    ukey, t = layout.user(user_id), repr(now)
    (members,) = yield [Call(USER, (ukey,), (t, "", ""))]
    if len(members) <= limit:
        return []
    fields = ("_e", "_c", "_h", "_u", "_a", "_r")
    metas = yield [("HMGET", layout.session(m), *fields) for m in members]
    live: list[tuple[float, str, str, float, bool]] = []
    gone: list[str] = []
    for key, (expires, created, handle, user, absolute, remember) in zip(
        members, metas, strict=True
    ):
        if expires is not None and float(expires) > now and user == user_id:
            live.append((float(created), key, handle, float(absolute or 0), remember == "1"))
        else:
            gone.append(key)
    live.sort()
    victims = live[: max(0, len(live) - limit)]
    batch: list[Command] = []
    for created, key, handle, absolute, remember in victims:
        batch.append(Call(TAKE, (layout.session(key),), (t,)))
        batch.append(Call(UNLINK_HANDLE, (layout.handle(handle),), (t, key)))
        gone.append(key)
        if keep_for is not None:
            victim = Record(key, handle, created, now, now, absolute, user_id, remember=remember)
            batch.extend(_bury(layout, ended(victim, "evicted", now, keep_for, by="limit"), t))
    if gone:
        batch.append(Call(USER, (ukey,), (t, "", "", *gone)))
        yield batch
    return [victim[2] for victim in victims]
