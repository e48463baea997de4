"""The SQL side of tombstones: what :class:`~sessionware.backends.sql.SQLBackend`
keeps for an ended signed-in session (see :mod:`sessionware.endings`).

One more table, ``<table>_endings``, one row per tombstone: ``key`` (the
storage key, primary key), ``user_id`` (indexed, for erasing a user's),
``until`` (indexed, for the sweep) and ``body`` (the tombstone's JSON,
:meth:`~sessionware.records.Tombstone.dumps`).  It is a separate table, so
no query over sessions (``load``, ``by_user``, counts) can ever see one, and
adding it is the whole migration from 0.1: ``create_all`` creates it next to
the two 0.1 tables, which stay exactly as they were.

Every statement here runs inside the transaction of the commit that ends the
session.  The expiry form is the companion row written with the session row
at login or rotation; touches never write it, and the sweep deletes
tombstone rows past ``until`` as it deletes expired sessions.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from ..records import Tombstone

__all__ = ["TombPlans", "endings_table"]

_bp = sa.bindparam
#: Tombstone rows deleted per sweep, besides the sessions.
SWEEP = 100
_COMPANION = '{"r":"expiry"%'

Step: TypeAlias = tuple[Executable, Any]


def endings_table(
    table: str, metadata: sa.MetaData, key_type: sa.String, schema: str | None
) -> sa.Table:
    """The ``<table>_endings`` table (added in 0.2; 0.1 stores gain it on first use)."""
    return sa.Table(
        f"{table}_endings",
        metadata,
        sa.Column("key", key_type, primary_key=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("until", sa.Double(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Index(f"ix_{table}_endings_user_id", "user_id"),
        sa.Index(f"ix_{table}_endings_until", "until"),
        schema=schema,
    )


class TombPlans:
    """Statements on the endings table, built once; each method is a plan fragment."""

    def __init__(self, table: sa.Table, postgres: bool) -> None:
        t = table
        insert = (postgresql.insert if postgres else sqlite.insert)(t)
        self.upsert = insert.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"user_id": insert.excluded.user_id, "until": insert.excluded.until,
                  "body": insert.excluded.body},
        )  # fmt: skip
        self.q_one = sa.select(t.c.body).where(t.c.key == _bp("k"), t.c.until > _bp("now"))
        self.d_companion = sa.delete(t).where(t.c.key == _bp("k"), t.c.body.like(_COMPANION))
        self.d_user = sa.delete(t).where(t.c.user_id == _bp("user"))
        old = sa.select(t.c.key).where(t.c.until <= _bp("now")).order_by(t.c.until)
        self.d_old = sa.delete(t).where(t.c.key.in_(old.limit(SWEEP).scalar_subquery()))

    def bury(self, tomb: Tombstone) -> Generator[Step, Any, None]:
        """Store ``tomb`` at its key (replacing what was there)."""
        row = {"key": tomb.key, "user_id": tomb.user_id, "until": tomb.until,
               "body": tomb.dumps()}  # fmt: skip
        yield self.upsert, row

    def unbury(self, key: str) -> Generator[Step, Any, None]:
        """A delete with no recorded reason: drop a companion that would claim an expiry."""
        yield self.d_companion, {"k": key}

    def load(self, key: str, now: float) -> Generator[Step, Any, Tombstone | None]:
        got = yield self.q_one, {"k": key, "now": now}
        return Tombstone.loads(key, got.rows[0][0]) if got.rows else None

    def erase(self, user_id: str) -> Generator[Step, Any, int]:
        got = yield self.d_user, {"user": user_id}
        return int(got.rowcount)

    def sweep(self, now: float) -> Generator[Step, Any, None]:
        yield self.d_old, {"now": now}
