"""How records and ops map onto Redis keys, hash fields and script arguments.

Pure functions, no I/O and no ``redis`` import, shared by both faces and both
topologies.  The key layout is drawn in :mod:`.redis_scripts`.

A session is one hash.  Metadata fields start with ``_`` and every other
field with a category and a colon (``d:`` data, ``i:`` info, ``x:`` extra),
so no session key a developer picks can collide with metadata.  Data values
are stored exactly as the core encoded them (JSON text); extra values are
JSON-encoded here so a compare-and-set (``Patch.expect``) is a string
comparison inside Redis.  Times are stored as ``repr(float)``, which
round-trips exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..records import Create, Op, Patch, Record, Tombstone, companion
from .redis_carry import carry_args

__all__ = [
    "Layout",
    "commit_args",
    "companion_args",
    "dump_extra",
    "index_deadline",
    "ms",
    "parse",
    "patch_args",
    "record_fields",
    "tomb_args",
]

#: Record attribute -> hash field.  Single letters keep every hash small.
META = {
    "handle": "_h",
    "created_at": "_c",
    "last_active": "_l",
    "expires_at": "_e",
    "absolute_at": "_a",
    "user_id": "_u",
    "auth_time": "_t",
    "remember": "_r",
}


class Layout:
    """Key names under one prefix (``sw:`` by default)."""

    __slots__ = ("_h", "_s", "_t", "_tu", "_u", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._s, self._h, self._u = prefix + "s:", prefix + "h:", prefix + "u:"
        self._t, self._tu = prefix + "t:", prefix + "tu:"

    def session(self, key: str) -> str:
        return self._s + key

    def handle(self, handle: str) -> str:
        return self._h + handle

    def user(self, user_id: str) -> str:
        return self._u + user_id

    def tomb(self, key: str) -> str:
        return self._t + key

    def user_tombs(self, user_id: str) -> str:
        return self._tu + user_id


def tomb_args(tomb: Tombstone | None) -> tuple[str, str, str]:
    """A tombstone as ``json, until, user`` script arguments (``'', '', ''`` for none)."""
    if tomb is None:
        return "", "", ""
    return tomb.dumps(), repr(float(tomb.until)), "" if tomb.user_id is None else tomb.user_id


def companion_args(op: Create) -> tuple[str, str, str]:
    """``json, until, keep_for`` of a Create's expiry companion (empty when it has none)."""
    rec = op.record
    if op.keep_for is None or rec.user_id is None:
        return "", "", ""
    tomb = companion(rec, op.keep_for)
    return tomb.dumps(), repr(float(tomb.until)), repr(float(op.keep_for))


def ms(seconds: float) -> int:
    """A Unix time in whole milliseconds, rounded up so Redis never expires a key early."""
    return math.ceil(seconds * 1000)


def index_deadline(record: Record) -> float:
    """How long the handle and user index must remember ``record``: its latest deadline."""
    return max(record.expires_at, record.absolute_at)


def dump_extra(value: Any) -> str:
    """One ``extra`` value as canonical JSON (so equal values compare equal as text)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _meta_value(name: str, value: Any) -> str:
    if name == "remember":
        return "1" if value else "0"
    if name in ("user_id", "handle"):
        return str(value)
    return repr(float(value))


def record_fields(record: Record, data: bool = True) -> list[str]:
    """The hash of a new record as a flat ``[field, value, ...]`` list
    (without its data fields when ``data`` is false)."""
    out = [
        "_h", record.handle,
        "_c", repr(float(record.created_at)),
        "_l", repr(float(record.last_active)),
        "_e", repr(float(record.expires_at)),
        "_a", repr(float(record.absolute_at)),
        "_r", "1" if record.remember else "0",
    ]  # fmt: skip
    if record.user_id is not None:
        out += ("_u", str(record.user_id))
    if record.auth_time is not None:
        out += ("_t", repr(float(record.auth_time)))
    for name, text in record.data.items() if data else ():
        out += ("d:" + name, text)
    for name, text in record.info.items():
        out += ("i:" + name, text)
    for name, value in record.extra.items():
        out += ("x:" + name, dump_extra(value))
    return out


def parse(key: str, fields: Mapping[str, str], now: float) -> Record | None:
    """The record in ``fields`` (an ``HGETALL`` reply), or None if absent or expired.

    On every read's path, so it looks at each field's first letter once and
    decodes ``extra`` only when there is some.
    """
    expires = fields.get("_e")
    if expires is None or "_h" not in fields:
        return None
    expires_at = float(expires)
    if expires_at <= now:
        return None
    data: dict[str, str] = {}
    info: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for name, value in fields.items():
        kind = name[0]
        if kind == "d":
            data[name[2:]] = value
        elif kind == "i":
            info[name[2:]] = value
        elif kind == "x":
            extra[name[2:]] = json.loads(value)
    auth = fields.get("_t")
    return Record(
        key,
        fields["_h"],
        float(fields["_c"]),
        float(fields["_l"]),
        expires_at,
        float(fields["_a"]),
        fields.get("_u"),
        None if auth is None else float(auth),
        fields.get("_r") == "1",
        data,
        info,
        extra,
    )


def pairs(flat: Sequence[Any]) -> dict[str, Any]:
    """``[k1, v1, k2, v2...]`` (a Lua reply) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def patch_args(op: Patch) -> list[str]:
    """A :class:`Patch` as the argument block read by the Lua ``patch`` function."""
    sets: list[str] = []
    dels: list[str] = []
    for name, text in op.set.items():
        sets += ("d:" + name, text)
    dels.extend("d:" + name for name in op.delete)
    for name, value in op.meta.items():
        if value is None and name in ("user_id", "auth_time"):
            dels.append(META[name])
        else:
            sets += (META[name], _meta_value(name, value))
    for name, value in op.extra.items():
        sets += ("x:" + name, dump_extra(value))
    expect: list[str] = []
    for name, value in op.expect.items():
        expect += ("x:" + name, dump_extra(value))
    expires = op.meta.get("expires_at")
    return [
        "" if expires is None else str(ms(expires)),
        "" if op.max_bytes is None else str(op.max_bytes),
        str(len(sets)), *sets,
        str(len(dels)), *dels,
        str(len(expect)), *expect,
    ]  # fmt: skip


def commit_args(layout: Layout, ops: Iterable[Op], now: float) -> list[str]:
    """The ``ARGV`` of the single-node ``COMMIT`` script for a commit's ops."""
    args = [repr(now), layout.prefix]
    for op in ops:
        if isinstance(op, Create):
            rec = op.record
            idx = index_deadline(rec)
            carry = op.carry and op.replaces is not None
            # A carrying rotation's data is built by the script (.redis_carry).
            fields = record_fields(rec, data=not carry)
            args += (
                "C", rec.key, rec.handle,
                "" if rec.user_id is None else str(rec.user_id),
                str(ms(rec.expires_at)), repr(idx), str(ms(idx)),
                "" if op.max_per_user is None else str(op.max_per_user),
                op.replaces or "",
                str(len(fields)), *fields,
                *tomb_args(op.tombstone), *companion_args(op),
            )  # fmt: skip
            args += ("M", *carry_args(op)) if carry else ("",)
        elif isinstance(op, Patch):
            args += ("P", op.key, *patch_args(op))
        else:
            args += ("D", op.key, *tomb_args(op.tombstone))
    return args
