"""Touch-on-load for :class:`~sessionware.backends.sql.SQLBackend`: a sliding read in one statement.

When a session's idle deadline is due to slide (:class:`~sessionware.records.Touch`),
the engine would otherwise follow the read with a commit of its own (a
transaction of several round trips).  Here the read does it:

* **PostgreSQL**: one statement.  A data-modifying CTE updates the session
  row only if it is live and due, and the outer ``SELECT`` returns the row
  joined with its data, taking ``last_active``/``expires_at`` from the CTE
  when it touched (the outer query sees the snapshot from before the update,
  as PostgreSQL defines it).  It runs on the autocommit reader, so it is one
  round trip whether or not it touched.
* **SQLite** (in process, so statements cost no round trips): the usual
  read, then, only when :meth:`Touch.due`, an ``UPDATE`` guarded by the
  ``last_active`` just read, so a concurrent commit or touch wins and
  nothing is written twice.

The touch never moves ``expires_at`` past ``absolute_at`` and never revives
a session past its idle limit, exactly as the engine's own touch.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..records import Record, Touch
from .sql_plans import Plan, Planner, fold_records
from .sql_schema import SessionTables

__all__ = ["TouchReads"]


class TouchReads:
    """The statements of a read that also slides a due session's expiry."""

    def __init__(self, tables: SessionTables, planner: Planner) -> None:
        s, d = tables.sessions, tables.data
        self._planner = planner
        now: sa.BindParameter[float] = sa.bindparam("now", type_=sa.Double())
        idle = sa.case((s.c.remember, sa.bindparam("ridle", type_=sa.Double())),
                       else_=sa.bindparam("idle", type_=sa.Double()))  # fmt: skip
        after: sa.BindParameter[float] = sa.bindparam("after", type_=sa.Double())
        key: sa.BindParameter[str] = sa.bindparam("sk")
        due = sa.and_(
            s.c.key == key,
            s.c.expires_at > now,
            now - s.c.last_active >= after,
            now < s.c.last_active + idle,
        )
        deadline = sa.func.least(now + idle, s.c.absolute_at)
        touched = (
            sa.update(s)
            .where(due)
            .values(last_active=now, expires_at=deadline)
            .returning(s.c.key, s.c.last_active, s.c.expires_at)
            .cte("touched")
        )
        columns = [
            *(
                sa.func.coalesce(touched.c[c.name], c) if c.name in ("last_active", "expires_at")
                else c
                for c in s.c
            ),
            d.c.name,
            d.c.value,
        ]  # fmt: skip
        joined = s.outerjoin(touched, touched.c.key == s.c.key).outerjoin(
            d, d.c.session_key == s.c.key
        )
        self.q_touch_load = (
            sa.select(*columns).select_from(joined).where(s.c.key == key, s.c.expires_at > now)
        )
        self.u_touch = (
            sa.update(s)
            .where(s.c.key == key, s.c.expires_at > now, s.c.last_active == sa.bindparam("seen"))
            .values(last_active=now, expires_at=sa.bindparam("deadline"))
        )

    def load(self, key: str, now: float, touch: Touch) -> Plan[Record | None]:
        """Read ``key`` and slide it if due: one statement on PostgreSQL."""
        if self._planner.postgres:
            params = {"sk": key, "now": now, "after": touch.after, "idle": touch.idle,
                      "ridle": touch.remember_idle}  # fmt: skip
            got = yield self.q_touch_load, params
            records = fold_records(got.rows)
            return records[0] if records else None
        record = yield from self._planner.load(key, now)
        if record is None or not touch.due(record, now):
            return record
        deadline = touch.deadline(record, now)
        params = {"sk": key, "now": now, "seen": record.last_active, "deadline": deadline}
        done = yield self.u_touch, params
        if done.rowcount == 1:
            record.last_active, record.expires_at = now, deadline
        return record
