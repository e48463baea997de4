"""What SQL each backend call runs, written once for both faces.

Every call is a *plan*: a generator that yields ``(statement, params)`` and
receives each statement's :class:`Outcome` back.  The sync face drives a plan
over a :class:`~sqlalchemy.engine.Connection`, the async face over an
:class:`~sqlalchemy.ext.asyncio.AsyncConnection`; both drivers are a handful
of lines, so the two faces are native (no thread hop, no sync/async bridge)
and cannot drift apart in what they write.  A plan runs inside one
transaction opened by its driver.

Invariants the plans keep (CC-01..03, TM-05/06, EX-05):

1. Reads filter ``expires_at > now``; they never return an expired row,
   whether or not the sweeper has removed it yet.
2. A patch first takes the session row's lock (``UPDATE ... WHERE live`` or
   ``SELECT ... FOR UPDATE``), so it cannot race a delete or another patch's
   read-modify-write of ``extra``; data keys are then upserted or deleted
   one row each, so distinct keys never overwrite one another.
3. A create never overwrites a live row (``INSERT ... ON CONFLICT DO
   NOTHING``); with ``replaces`` the old row is deleted (only if live) and
   the new one inserted in the same transaction, so exactly one of the two
   IDs loads the session at any instant.
4. Rows are deleted session row first, data rows second.  On PostgreSQL the
   first delete waits for any patch holding the row; the second (a new
   statement, a new snapshot) then also sees that patch's data rows.
5. ``max_per_user`` eviction runs after the insert, under a per-user
   transaction-scoped advisory lock on PostgreSQL taken before any other
   statement of the commit (so two logins of one user serialize and no lock
   order can deadlock); SQLite serializes all writers anyway.
6. A patch with ``max_bytes`` first locks its session row, then measures the
   data rows as committed (a new statement sees concurrent patches that held
   the lock before it), before any op of the commit writes: over the cap,
   the plan returns ``too_large`` having written nothing.  A carrying
   rotation (``Create.carry``) is measured the same way on the row it replaces.
7. A carrying rotation locks the replaced row, then reads its data rows as
   committed and builds the new record's data from them (plus its own sets,
   minus its deletes) in the same transaction, so a concurrent patch either
   committed before (and is carried) or finds the row gone (and fails).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from ..records import (
    APPLIED,
    ApplyResult,
    Create,
    Delete,
    Op,
    Patch,
    Record,
    cap_key,
    companion,
    encode,
    entry_size,
)
from ..records import ended as ended_at_now
from .sql_schema import SessionTables
from .sql_tombs import TombPlans

__all__ = ["Outcome", "Plan", "Planner", "Step", "fold_records"]

T = TypeVar("T")

Step: TypeAlias = tuple[Executable, Any]
"""A statement and its parameters (a dict, a list of dicts, or None)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a statement returned: its rows (fetched) and its rowcount."""

    rows: Sequence[Sequence[Any]]
    rowcount: int


Plan: TypeAlias = Generator[Step, Outcome, T]

_bp = sa.bindparam


class Planner:
    """Builds the statements once and turns backend calls into plans."""

    def __init__(self, tables: SessionTables, dialect: str, tombstones: bool = False) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SQLBackend supports sqlite and postgresql, not {dialect!r}")
        self.postgres = dialect == "postgresql"
        #: Tombstone statements, or None when this store keeps none.
        self.tombs: TombPlans | None = None
        if tombstones and tables.endings is not None:
            self.tombs = TombPlans(tables.endings, self.postgres)
        self._table = tables.sessions.fullname
        s, d = self._s, self._d = tables.sessions, tables.data
        insert = postgresql.insert if self.postgres else sqlite.insert
        live = s.c.expires_at > _bp("now")

        cols = [*s.c, d.c.name, d.c.value]
        joined = sa.select(*cols).select_from(s.outerjoin(d, d.c.session_key == s.c.key))
        self.q_load = joined.where(s.c.key == _bp("sk"), live)
        self.q_handle = joined.where(s.c.handle == _bp("hd"), live)
        self.q_user = joined.where(s.c.user_id == _bp("user"), live).order_by(
            s.c.created_at, s.c.key
        )

        self.q_lock = sa.select(s.c.extra).where(s.c.key == _bp("sk"), live).with_for_update()
        # Byte lengths, as the cap counts them (UTF-8), without fetching the values.
        # (Not a cast to bytea on PostgreSQL: that would parse backslashes as escapes.)
        if self.postgres:
            nbytes = sa.func.octet_length(d.c.value)
        else:
            nbytes = sa.func.length(sa.cast(d.c.value, sa.LargeBinary))
        self.q_sizes = sa.select(d.c.name, nbytes).where(d.c.session_key == _bp("sk"))
        self.q_values = sa.select(d.c.name, d.c.value).where(d.c.session_key == _bp("sk"))
        self.q_expiry = sa.select(s.c.expires_at).where(s.c.key == _bp("sk"))
        self.q_user_rows = (
            sa.select(s.c.key, s.c.handle, s.c.expires_at, s.c.absolute_at, s.c.remember)
            .where(s.c.user_id == _bp("user"))
            .order_by(s.c.created_at, s.c.key)
        )
        expired = sa.select(s.c.key).where(s.c.expires_at <= _bp("now"))
        expired = expired.order_by(s.c.expires_at).limit(_bp("limit", type_=sa.Integer))
        self.q_expired = expired.with_for_update(skip_locked=True) if self.postgres else expired
        self.q_advisory = sa.select(sa.func.pg_advisory_xact_lock(_bp("lock", type_=sa.BigInteger)))

        self.i_absent = insert(s).on_conflict_do_nothing(index_elements=[s.c.key])
        # INSERT rowcounts are kept only on request; 0 here means "key taken".
        self.i_absent = self.i_absent.execution_options(preserve_rowcount=True)
        self.i_session = sa.insert(s)
        self.i_data = sa.insert(d)
        upsert = insert(d)
        self.i_upsert = upsert.on_conflict_do_update(
            index_elements=[d.c.session_key, d.c.name], set_={"value": upsert.excluded.value}
        )

        self.d_live = sa.delete(s).where(s.c.key == _bp("sk"), live)
        self.d_dead = sa.delete(s).where(s.c.key == _bp("sk"), s.c.expires_at <= _bp("now"))
        self.d_keys = sa.delete(s).where(s.c.key.in_(_bp("keys", expanding=True)))
        self.d_data = sa.delete(d).where(d.c.session_key.in_(_bp("keys", expanding=True)))
        self.d_names = sa.delete(d).where(
            d.c.session_key == _bp("sk"), d.c.name.in_(_bp("names", expanding=True))
        )

    # -- reads -----------------------------------------------------------------

    def load(self, key: str, now: float) -> Plan[Record | None]:
        got = yield self.q_load, {"sk": key, "now": now}
        records = _records(got.rows)
        return records[0] if records else None

    def load_handle(self, handle: str, now: float) -> Plan[Record | None]:
        got = yield self.q_handle, {"hd": handle, "now": now}
        records = _records(got.rows)
        return records[0] if records else None

    def by_user(self, user_id: str, now: float) -> Plan[list[Record]]:
        got = yield self.q_user, {"user": user_id, "now": now}
        return _records(got.rows)

    # -- writes ----------------------------------------------------------------

    def apply(self, ops: Sequence[Op], now: float, sweep: int = 0) -> Plan[ApplyResult]:
        """Apply ``ops`` in order; first remove up to ``sweep`` expired sessions."""
        if self.postgres:
            users = {
                op.record.user_id
                for op in ops
                if isinstance(op, Create) and op.max_per_user is not None and op.record.user_id
            }
            for user in sorted(users):  # a fixed order: two commits cannot deadlock
                yield self.q_advisory, {"lock": self._lock_id(user)}
        if sweep:
            yield from self.purge(now, sweep)
        for op in ops:
            key = cap_key(op)
            if key is not None and (yield from self._too_large(op, key, now)):
                return ApplyResult(False, (), True)
        ok = True
        evicted: list[str] = []
        for op in ops:
            if isinstance(op, Patch):
                ok = (yield from self._patch(op, now)) and ok
            elif isinstance(op, Create):
                ok = (yield from self._create(op, now, evicted)) and ok
            else:
                yield from self._drop([op.key])
                yield from self._bury_delete(op)
        if ok and not evicted:
            return APPLIED
        return ApplyResult(ok, tuple(evicted))

    def purge(self, now: float, limit: int) -> Plan[int]:
        """Delete up to ``limit`` expired sessions (oldest deadline first)."""
        got = yield self.q_expired, {"now": now, "limit": limit}
        keys = [row[0] for row in got.rows]
        if self.tombs is not None:
            yield from self.tombs.sweep(now)
        if not keys:
            return 0
        return (yield from self._drop(keys))

    def _create(self, op: Create, now: float, evicted: list[str]) -> Plan[bool]:
        record = op.record
        row = _session_row(record)
        data = record.data
        if op.replaces is not None:
            # Check the new key before touching the old row, so a clash
            # leaves the old session exactly as it was.
            got = yield self.q_expiry, {"sk": record.key}
            if got.rows:
                if got.rows[0][0] > now:
                    return False  # never overwrite (ID-05)
                yield from self._drop([record.key])
            if op.carry:
                # Lock the old row first (patches lock it before writing data
                # rows), then read its data as committed: nothing lands between
                # this read and the delete below, so no write is lost (#18).
                got = yield self.q_lock, {"sk": op.replaces, "now": now}
                if not got.rows:
                    return False  # revoked or expired meanwhile (CC-03)
                got = yield self.q_values, {"sk": op.replaces}
                data = op.carried({name: value for name, value in got.rows})
            gone = yield self.d_live, {"sk": op.replaces, "now": now}
            if gone.rowcount == 0:
                return False  # revoked or expired meanwhile: do not resurrect (CC-03)
            yield self.d_data, {"keys": [op.replaces]}
            if self.tombs is not None and op.tombstone is not None:
                yield from self.tombs.bury(op.tombstone)  # the old row was live: no other
            yield self.i_session, row
        else:
            got = yield self.i_absent, row
            if got.rowcount == 0:
                dead = yield self.d_dead, {"sk": record.key, "now": now}
                if dead.rowcount == 0:
                    return False  # a live record holds the key (ID-05)
                yield self.d_data, {"keys": [record.key]}
                yield self.i_session, row
        if data:
            yield self.i_data, _data_rows(record.key, data.items())
        keep = op.keep_for if self.tombs is not None and record.user_id is not None else None
        if self.tombs is not None and keep is not None:
            yield from self.tombs.bury(companion(record, keep))
        if op.max_per_user is not None and record.user_id is not None:
            victims = yield from self._limit_user(record.user_id, op.max_per_user, now, keep)
            evicted.extend(victims)
        return True

    def _bury_delete(self, op: Delete) -> Plan[None]:
        if self.tombs is None:
            return
        if op.tombstone is not None:
            yield from self.tombs.bury(op.tombstone)
        else:
            yield from self.tombs.unbury(op.key)

    def _patch(self, op: Patch, now: float) -> Plan[bool]:
        s = self._s
        if op.extra or op.expect:
            got = yield self.q_lock, {"sk": op.key, "now": now}
            if not got.rows:
                return False
            extra = json.loads(got.rows[0][0])
            if any(extra.get(name) != value for name, value in op.expect.items()):
                return False  # compare-and-set lost
            values: dict[str, Any] = dict(op.meta)
            if op.extra:
                extra.update(op.extra)
                values["extra"] = encode(extra)
            if values:
                yield sa.update(s).where(s.c.key == _bp("sk")).values(values), {"sk": op.key}
        elif op.meta:
            stmt = sa.update(s).where(s.c.key == _bp("sk"), s.c.expires_at > _bp("now"))
            got = yield stmt.values(dict(op.meta)), {"sk": op.key, "now": now}
            if got.rowcount == 0:
                return False  # missing or expired: stays missing (TM-01)
        else:
            got = yield self.q_lock, {"sk": op.key, "now": now}
            if not got.rows:
                return False
        if op.set:
            yield self.i_upsert, _data_rows(op.key, op.set.items())
        if op.delete:
            yield self.d_names, {"sk": op.key, "names": list(op.delete)}
        return True

    def _too_large(self, op: Op, key: str, now: float) -> Plan[bool]:
        """Lock the session row at ``key`` (see :func:`cap_key`) and tell whether
        ``op`` would pass ``op.max_bytes``."""
        assert not isinstance(op, Delete) and op.max_bytes is not None
        got = yield self.q_lock, {"sk": key, "now": now}
        if not got.rows:
            return False  # missing or expired: the op itself fails
        sizes = yield self.q_sizes, {"sk": key}
        stored = {name: int(length or 0) for name, length in sizes.rows}
        for name in (*op.set, *op.delete):
            stored.pop(name, None)
        total = sum(entry_size(name, "") + length for name, length in stored.items())
        gone = set(op.delete)
        total += sum(entry_size(name, text) for name, text in op.set.items() if name not in gone)
        return total > op.max_bytes

    def _limit_user(
        self, user_id: str, limit: int, now: float, keep: float | None = None
    ) -> Plan[list[str]]:
        got = yield self.q_user_rows, {"user": user_id}
        dead = [row[0] for row in got.rows if row[2] <= now]
        live = [row for row in got.rows if row[2] > now]
        victims = live[: max(0, len(live) - limit)]
        doomed = dead + [row[0] for row in victims]
        if doomed:
            yield from self._drop(doomed)  # expired index entries go too (TM-05)
        if self.tombs is not None and keep is not None:
            for key, handle, _, absolute, remember in victims:
                victim = Record(key, handle, now, now, now, absolute, user_id, None, bool(remember))
                yield from self.tombs.bury(ended_at_now(victim, "evicted", now, keep, by="limit"))
        return [row[1] for row in victims]

    def _drop(self, keys: list[str]) -> Plan[int]:
        got = yield self.d_keys, {"keys": keys}
        yield self.d_data, {"keys": keys}
        return got.rowcount

    def _lock_id(self, user_id: str) -> int:
        digest = hashlib.blake2b(f"{self._table}\0{user_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


def _session_row(record: Record) -> dict[str, Any]:
    return {
        "key": record.key,
        "handle": record.handle,
        "user_id": record.user_id,
        "created_at": record.created_at,
        "last_active": record.last_active,
        "expires_at": record.expires_at,
        "absolute_at": record.absolute_at,
        "auth_time": record.auth_time,
        "remember": record.remember,
        "info": encode(record.info),
        "extra": encode(record.extra),
    }


def _data_rows(key: str, items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"session_key": key, "name": name, "value": value} for name, value in items]


def _records(rows: Sequence[Sequence[Any]]) -> list[Record]:
    """Fold joined rows (one per data key) back into records, keeping row order."""
    records: dict[str, Record] = {}
    for row in rows:
        (key, handle, user_id, created, active, expires, absolute, auth, remember, info, extra,
         name, value) = row  # fmt: skip
        record = records.get(key)
        if record is None:
            record = records[key] = Record(
                key,
                handle,
                created,
                active,
                expires,
                absolute,
                user_id,
                auth,
                bool(remember),
                {},
                json.loads(info),
                json.loads(extra),
            )
        if name is not None:
            record.data[name] = value
    return list(records.values())


#: Joined session/data rows as records, for the plans of other modules (``sql_touch``).
fold_records = _records
