"""The SQL schema of :class:`~sessionware.backends.sql.SQLBackend`, as SQLAlchemy tables.

Two tables, so that a commit can write a *patch* (CC-01), and since 0.2 a
third for tombstones (``<table>_endings``, :mod:`.sql_tombs`):

``<table>`` (default ``sessionware_sessions``), one row per session
    ``key`` (primary key: the keyed hash of the session ID, never the ID
    itself, ID-06), ``handle`` (unique, the public name used by
    ``list_sessions`` and ``revoke``), ``user_id`` (indexed: the per-user
    index), ``created_at``, ``last_active``, ``expires_at`` (indexed: reads
    filter on it and the sweeper walks it), ``absolute_at``, ``auth_time``,
    ``remember``, and ``info`` / ``extra`` as JSON text.

``<table>_data``, one row per (session, data key)
    ``session_key``, ``name``, ``value`` (JSON text exactly as the core
    encoded it).  Setting ``cart`` upserts one row and leaves ``theme``
    alone, so two requests that change different keys of one session at the
    same moment both persist, whatever the isolation level.

Times are Unix timestamps in ``DOUBLE PRECISION`` columns: the core works in
float seconds, comparisons stay index-friendly, and no time zone can creep in.
JSON travels as text rather than a JSON column type because the store never
looks inside it, and text behaves the same on SQLite and PostgreSQL.

The tables are built on a :class:`~sqlalchemy.MetaData` you can hand to
Alembic (``target_metadata``); see ``docs/sql.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import ConfigError
from .sql_tombs import endings_table

__all__ = ["DEFAULT_TABLE", "SessionTables", "make_metadata", "make_tables"]

DEFAULT_TABLE = "sessionware_sessions"

#: Storage keys and handles are short encodings of 256-bit values.
_KEY = sa.String(128)


@dataclass(frozen=True, slots=True)
class SessionTables:
    """The two tables of one session store and the metadata holding them.

    .. versionadded:: 0.1
    """

    metadata: sa.MetaData
    sessions: sa.Table
    data: sa.Table
    #: Tombstones of ended sessions (0.2; see :mod:`.sql_tombs`).
    endings: sa.Table | None = None


def make_tables(
    table: str = DEFAULT_TABLE,
    *,
    metadata: sa.MetaData | None = None,
    schema: str | None = None,
) -> SessionTables:
    """Define the session tables named ``table``, ``table + "_data"`` and ``table + "_endings"``.

    Pass your application's ``metadata`` to add them next to your own tables
    (one Alembic history for everything); by default a fresh
    :class:`~sqlalchemy.MetaData` is made.  ``schema`` places them in a
    PostgreSQL schema.

    .. versionadded:: 0.1
    """
    if not table or not table.replace("_", "").isalnum():
        raise ConfigError(f"table must be letters, digits and underscores, got {table!r}")
    metadata = sa.MetaData() if metadata is None else metadata
    sessions = sa.Table(
        table,
        metadata,
        sa.Column("key", _KEY, primary_key=True),
        sa.Column("handle", _KEY, nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_active", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("absolute_at", sa.Double(), nullable=False),
        sa.Column("auth_time", sa.Double(), nullable=True),
        sa.Column("remember", sa.Boolean(), nullable=False, default=False),
        sa.Column("info", sa.Text(), nullable=False, default="{}"),
        sa.Column("extra", sa.Text(), nullable=False, default="{}"),
        sa.UniqueConstraint("handle", name=f"uq_{table}_handle"),
        sa.Index(f"ix_{table}_user_id", "user_id"),
        sa.Index(f"ix_{table}_expires_at", "expires_at"),
        schema=schema,
    )
    data = sa.Table(
        f"{table}_data",
        metadata,
        sa.Column(
            "session_key",
            _KEY,
            # Enforced on PostgreSQL; SQLite enforces it only with PRAGMA
            # foreign_keys=ON, so the backend also deletes data rows itself.
            sa.ForeignKey(sessions.c.key, ondelete="CASCADE", name=f"fk_{table}_data_session"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        schema=schema,
    )
    endings = endings_table(table, metadata, _KEY, schema)
    return SessionTables(metadata, sessions, data, endings)


def make_metadata(table: str = DEFAULT_TABLE, *, schema: str | None = None) -> sa.MetaData:
    """A new :class:`~sqlalchemy.MetaData` holding only the session tables.

    Handy for Alembic's ``target_metadata = [Base.metadata, make_metadata()]``.

    .. versionadded:: 0.1
    """
    return make_tables(table, schema=schema).metadata
