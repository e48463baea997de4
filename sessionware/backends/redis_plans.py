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

from ..records import APPLIED, ApplyResult, Create, Op, Patch, Record, Touch
from .redis_layout import Layout, commit_args, index_deadline, ms, pairs, parse, patch_args
from .redis_layout import record_fields as fields_of
from .redis_lean import PATCH_DATA, lean_patch
from .redis_scripts import (
    BY_USER,
    COMMIT,
    CREATE,
    LOAD_TOUCH,
    PATCH,
    TAKE,
    UNLINK_HANDLE,
    USER,
    LuaScript,
)

__all__ = ["Call", "Command", "Plan", "apply", "by_user", "load", "load_handle"]

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
        return APPLIED if applied == 1 else ApplyResult(False)
    if not cluster:
        (reply,) = yield [Call(COMMIT, (), tuple(commit_args(layout, ops, now)))]
        if reply == [1]:
            return APPLIED
        return ApplyResult(reply[0] == 1, tuple(h for h in reply[1:] if h))
    return (yield from _apply_cluster(layout, ops, now))


def _apply_cluster(layout: Layout, ops: Sequence[Op], now: float) -> Plan[ApplyResult]:
    # Batch 1, for each op (on rotation the new record is listed, and so
    # written, before the old one is taken away):
    #   Create: CREATE new, [TAKE old], SET+PEXPIREAT handle, [USER add new, drop old]
    #   Patch:  PATCH          Delete: TAKE
    t = repr(now)
    batch: list[Command] = []
    starts: list[int] = []
    for op in ops:
        starts.append(len(batch))
        if isinstance(op, Create):
            rec = op.record
            idx = index_deadline(rec)
            new = (t, ms(rec.expires_at), *fields_of(rec))
            batch.append(Call(CREATE, (layout.session(rec.key),), new))
            if op.replaces is not None:
                batch.append(Call(TAKE, (layout.session(op.replaces),), (t,)))
            batch.append(("SET", layout.handle(rec.handle), rec.key))
            batch.append(("PEXPIREAT", layout.handle(rec.handle), ms(idx)))
            if rec.user_id is not None:
                drop = () if op.replaces is None else (op.replaces,)
                index = (t, rec.key, repr(idx), *drop)
                batch.append(Call(USER, (layout.user(rec.user_id),), index))
        elif isinstance(op, Patch):
            batch.append(Call(PATCH, (layout.session(op.key),), (t, *patch_args(op))))
        else:
            batch.append(Call(TAKE, (layout.session(op.key),), (t,)))
    replies = yield batch

    # Batch 2: index bookkeeping that depends on what batch 1 found.
    ok = True
    follow: list[Command] = []
    limits: dict[str, int] = {}

    def unindex(key: str, handle: str | None, user: str | None) -> None:
        if handle is not None:
            follow.append(Call(UNLINK_HANDLE, (layout.handle(handle),), (t, key)))
        if user is not None:
            follow.append(Call(USER, (layout.user(user),), (t, "", "", key)))

    for op, at in zip(ops, starts, strict=True):
        if isinstance(op, Create):
            rec = op.record
            created = replies[at] == 1
            if op.replaces is not None:
                was_live, old_handle, old_user = replies[at + 1]
                if was_live != 1 and created:
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
            ok = ok and created
            if created and op.max_per_user is not None and rec.user_id is not None:
                limits[rec.user_id] = op.max_per_user
        elif isinstance(op, Patch):
            reply = replies[at]
            ok = ok and reply[0] == 1
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
    for user_id, limit in limits.items():
        evicted += yield from _evict(layout, user_id, limit, now)
    if ok and not evicted:
        return APPLIED
    return ApplyResult(ok, tuple(evicted))


def _evict(layout: Layout, user_id: str, limit: int, now: float) -> Plan[list[str]]:
    """``max_per_user`` on a cluster: read the index, then remove the oldest beyond ``limit``.

    Not atomic with the login, but it converges: concurrent logins each see
    their own entry, and whichever reads the index last sees every entry, so
    the user ends with at most ``limit`` sessions (TM-06).
    """
    ukey, t = layout.user(user_id), repr(now)
    (members,) = yield [Call(USER, (ukey,), (t, "", ""))]
    if len(members) <= limit:
        return []
    metas = yield [("HMGET", layout.session(m), "_e", "_c", "_h", "_u") for m in members]
    live: list[tuple[float, str, str]] = []
    gone: list[str] = []
    for key, (expires, created, handle, user) in zip(members, metas, strict=True):
        if expires is not None and float(expires) > now and user == user_id:
            live.append((float(created), key, handle))
        else:
            gone.append(key)
    live.sort()
    victims = live[: max(0, len(live) - limit)]
    batch: list[Command] = []
    for _, key, handle in victims:
        batch.append(Call(TAKE, (layout.session(key),), (t,)))
        batch.append(Call(UNLINK_HANDLE, (layout.handle(handle),), (t, key)))
        gone.append(key)
    if gone:
        batch.append(Call(USER, (ukey,), (t, "", "", *gone)))
        yield batch
    return [handle for _, _, handle in victims]
