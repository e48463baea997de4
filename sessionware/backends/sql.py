"""SQLBackend: durable sessions in SQLite (one file, no server) or PostgreSQL.

Built on SQLAlchemy Core 2.x.  One ordinary URL gives a sync engine (the
WSGI face) and an async engine (the ASGI face); see
:mod:`~sessionware.backends.sql_engines`.  The schema lives in
:mod:`~sessionware.backends.sql_schema` and the SQL of every call in
:mod:`~sessionware.backends.sql_plans`, written once and driven natively by
both faces.

Why no update is lost (CC-01..03)
---------------------------------
Each ``apply`` runs in one transaction, and data is stored one row per
(session, key): a patch upserts or deletes exactly the keys it names, so two
requests that change different keys of one session both persist no matter how
their transactions interleave.  Around that, the store must still serialize
the parts that are read-modify-write (``extra`` with its compare-and-set,
"is the session still live?", rotation, per-user limits):

* **PostgreSQL** (READ COMMITTED): a patch locks its session row first
  (``UPDATE ... WHERE expires_at > now`` or ``SELECT ... FOR UPDATE``), so a
  concurrent patch, delete or rotation of the same session waits for it and
  then re-checks against the committed row.  Logins with
  ``max_sessions_per_user`` take ``pg_advisory_xact_lock`` on a hash of the
  user ID, so concurrent logins evict consistently (TM-06).  Other sessions
  never wait for one another.
* **SQLite**: every write transaction starts with ``BEGIN IMMEDIATE``, which
  takes the database's single write lock up front (waiting up to
  ``busy_timeout``); writers run one at a time, each sees the previous
  commit, and no transaction can fail half-way with ``database is locked``.
  Reads take no lock (WAL mode), so they never wait for writers.

Row locks alone would not be enough on SQLite (it has none) and a lock on
every write would be wasteful on PostgreSQL, hence one mechanism per engine.

Expiry (EX-05, TM-05)
---------------------
Every read filters ``expires_at > now``.  Expired rows are deleted in small
batches: every ``sweep_every``-th apply also removes at most ``sweep_batch``
of them, inside its transaction (oldest deadline first, skipping rows another
worker holds on PostgreSQL), so the work per request stays bounded, and
:meth:`SQLBackend.purge_expired` (``sessionware cleanup --backend URL``)
removes all of them from a cron job.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from ..errors import BackendUnavailable, ConfigError, MissingExtra

try:
    import sqlalchemy as sa
    from sqlalchemy import exc
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("sql", "SQLAlchemy") from error

from ..records import APPLIED, ApplyResult, Op, Record, Tombstone, Touch
from .sql_engines import TX_OPTION, derive_urls, make_engine, map_error, render, setup_sqlite
from .sql_plans import Outcome, Plan, Planner
from .sql_schema import DEFAULT_TABLE, SessionTables, make_tables
from .sql_touch import TouchReads

__all__ = ["SQLBackend"]

T = TypeVar("T")

#: Sessions deleted per transaction by :meth:`SQLBackend.purge_expired`.
PURGE_BATCH = 1000


class SQLBackend:
    """Sessions in SQL tables, with a sync and an async face.

    :param url: an ordinary SQLAlchemy URL: ``sqlite:///sessions.db``,
        ``sqlite://`` (in memory, for tests), ``postgresql://...``,
        ``postgresql+psycopg://...`` or ``postgresql+asyncpg://...``.
    :param table: name of the sessions table; data rows go to ``table + "_data"``.
    :param create_tables: create missing tables on first use (turn off when
        Alembic owns the schema).
    :param engine: / :param async_engine: use these engines instead of ones
        built from ``url``; a missing one is derived from the other's URL.
    :param busy_timeout: seconds a write may wait for a lock (SQLite's write
        lock; PostgreSQL's ``lock_timeout``) before the call fails with
        :class:`~sessionware.errors.BackendUnavailable`.
    :param connect_timeout: PostgreSQL: seconds to wait for a connection.
    :param sweep_every: / :param sweep_batch: every ``sweep_every``-th apply
        also deletes up to ``sweep_batch`` expired sessions.
    :param tombstones: keep tombstones (why sessions ended) in
        ``table + "_endings"``; by default on when ``create_tables`` is (that
        creates the table).  When Alembic owns the schema, add the table with
        your migration, then pass ``tombstones=True``.

    In-memory SQLite holds one connection shared by both faces; its async
    calls run inline (microseconds, no I/O to wait for).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str | sa.URL | None = None,
        *,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
        create_tables: bool = True,
        engine: sa.Engine | None = None,
        async_engine: AsyncEngine | None = None,
        busy_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        pool_pre_ping: bool = False,
        sqlite_wal: bool = True,
        sweep_every: int = 10,
        sweep_batch: int = 100,
        tombstones: bool | None = None,
    ) -> None:
        if sweep_every < 1 or sweep_batch < 0:
            raise ConfigError("sweep_every must be >= 1 and sweep_batch >= 0")
        if url is None:
            given = engine if engine is not None else async_engine
            if given is None:
                raise ConfigError("SQLBackend needs a url, an engine or an async_engine")
            url = given.url
        sync_url, async_url = derive_urls(url)
        options: dict[str, Any] = {
            "busy_timeout": busy_timeout,
            "connect_timeout": connect_timeout,
            "pool_pre_ping": pool_pre_ping,
            "sqlite_wal": sqlite_wal,
        }
        sqlite = sync_url.get_backend_name() == "sqlite"
        if engine is None:
            engine = make_engine(sync_url, is_async=False, **options)
        elif sqlite:
            setup_sqlite(engine, wal=False)
        if async_engine is None and async_url is not None:
            async_engine = make_engine(async_url, is_async=True, **options)
        elif async_engine is not None and sqlite:
            setup_sqlite(async_engine.sync_engine, wal=False)
        self.engine: sa.Engine = engine
        self.async_engine: AsyncEngine | None = async_engine
        self.tables: SessionTables = make_tables(table, schema=schema)
        self.metadata: sa.MetaData = self.tables.metadata
        self.create_tables = create_tables
        self.sweep_every = sweep_every
        self.sweep_batch = sweep_batch
        #: Stores why sessions ended (the optional capability of the protocol).
        self.keeps_tombstones = create_tables if tombstones is None else tombstones
        self._planner = Planner(self.tables, sync_url.get_backend_name(), self.keeps_tombstones)
        self._touch = TouchReads(self.tables, self._planner)
        if sqlite:
            write: dict[str, Any] = {TX_OPTION: "immediate"}
            read: dict[str, Any] = {TX_OPTION: "read"}
        else:
            write, read = {}, {"isolation_level": "AUTOCOMMIT"}
        self._writer = engine.execution_options(**write)
        self._reader = engine.execution_options(**read)
        self._awriter = async_engine.execution_options(**write) if async_engine else None
        self._areader = async_engine.execution_options(**read) if async_engine else None
        # In-memory SQLite: one shared connection, so one caller at a time.
        self._guard: Any = threading.Lock() if async_engine is None else contextlib.nullcontext()
        self._ready = not create_tables
        self._ready_lock = threading.Lock()
        self._writes = itertools.count()

    @property
    def address(self) -> str:
        """The database URL with the password hidden, for messages and events."""
        return render(self.engine.url)

    def __repr__(self) -> str:
        return f"SQLBackend({render(self.engine.url)!r}, table={self.tables.sessions.name!r})"

    # -- sync face -----------------------------------------------------------

    #: ``load`` accepts a :class:`~sessionware.records.Touch`: a read that
    #: slides the expiry is one statement on PostgreSQL (:mod:`.sql_touch`).
    touches_on_load = True

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        if touch is not None:
            return self._run(self._touch.load(key, now, touch), write=False)
        return self._run(self._planner.load(key, now), write=False)

    def load_handle(self, handle: str, now: float) -> Record | None:
        return self._run(self._planner.load_handle(handle, now), write=False)

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        if not ops:
            return APPLIED
        return self._run(self._planner.apply(ops, now, self._sweep_budget()), write=True)

    def by_user(self, user_id: str, now: float) -> list[Record]:
        return self._run(self._planner.by_user(user_id, now), write=False)

    def load_ending(self, key: str, now: float) -> Tombstone | None:
        tombs = self._planner.tombs
        return None if tombs is None else self._run(tombs.load(key, now), write=False)

    def erase_endings(self, user_id: str) -> int:
        tombs = self._planner.tombs
        return 0 if tombs is None else self._run(tombs.erase(user_id), write=True)

    def purge_expired(self, now: float | None = None, limit: int | None = None) -> int:
        """Delete expired sessions now (all, or at most ``limit``); returns how many.

        Works in transactions of :data:`PURGE_BATCH` rows, so a large backlog
        never holds the SQLite write lock for long.  Called by
        ``sessionware cleanup --backend URL``.
        """
        now = time.time() if now is None else now
        removed = 0
        while limit is None or removed < limit:
            batch = PURGE_BATCH if limit is None else min(PURGE_BATCH, limit - removed)
            done = self._run(self._planner.purge(now, batch), write=True)
            removed += done
            if done < batch:
                break
        return removed

    def create_all(self) -> None:
        """Create the tables and indexes that do not exist yet."""
        for attempt in (1, 2):
            try:
                with self._guard, self._writer.begin() as conn:
                    self.metadata.create_all(conn, checkfirst=True)
                break
            except exc.SQLAlchemyError as error:
                # Two processes creating at once: the loser retries and finds them.
                if attempt == 2 or isinstance(map_error(error), BackendUnavailable):
                    raise map_error(error) from error
        self._ready = True

    def close(self) -> None:
        """Close the sync engine's pooled connections (the async face: :meth:`aclose`)."""
        self.engine.dispose()

    # -- async face: the same plans over AsyncConnection -----------------------

    async def aload(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        if touch is not None:
            return await self._arun(self._touch.load(key, now, touch), write=False)
        return await self._arun(self._planner.load(key, now), write=False)

    async def aload_handle(self, handle: str, now: float) -> Record | None:
        return await self._arun(self._planner.load_handle(handle, now), write=False)

    async def aapply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        if not ops:
            return APPLIED
        return await self._arun(self._planner.apply(ops, now, self._sweep_budget()), write=True)

    async def aby_user(self, user_id: str, now: float) -> list[Record]:
        return await self._arun(self._planner.by_user(user_id, now), write=False)

    async def aload_ending(self, key: str, now: float) -> Tombstone | None:
        tombs = self._planner.tombs
        return None if tombs is None else await self._arun(tombs.load(key, now), write=False)

    async def aerase_endings(self, user_id: str) -> int:
        tombs = self._planner.tombs
        return 0 if tombs is None else await self._arun(tombs.erase(user_id), write=True)

    async def apurge_expired(self, now: float | None = None, limit: int | None = None) -> int:
        """Async twin of :meth:`purge_expired`."""
        now = time.time() if now is None else now
        removed = 0
        while limit is None or removed < limit:
            batch = PURGE_BATCH if limit is None else min(PURGE_BATCH, limit - removed)
            done = await self._arun(self._planner.purge(now, batch), write=True)
            removed += done
            if done < batch:
                break
        return removed

    async def acreate_all(self) -> None:
        """Async twin of :meth:`create_all`."""
        if self._awriter is None:
            self.create_all()
            return
        for attempt in (1, 2):
            try:
                async with self._awriter.begin() as conn:
                    await conn.run_sync(self.metadata.create_all, checkfirst=True)
                break
            except exc.SQLAlchemyError as error:
                if attempt == 2 or isinstance(map_error(error), BackendUnavailable):
                    raise map_error(error) from error
        self._ready = True

    async def aclose(self) -> None:
        """Close the async engine's pooled connections."""
        if self.async_engine is not None:
            await self.async_engine.dispose()

    # -- drivers ---------------------------------------------------------------

    def _sweep_budget(self) -> int:
        return self.sweep_batch if next(self._writes) % self.sweep_every == 0 else 0

    def _run(self, plan: Plan[T], *, write: bool) -> T:
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.create_all()
        step = next(plan)
        for attempt in (1, 2):
            progress = _Progress()
            try:
                with self._guard, (self._writer if write else self._reader).begin() as conn:
                    return _drive(conn, plan, step, progress)
            except (exc.SQLAlchemyError, OSError) as error:
                if attempt == 1 and _retry(error, progress):
                    continue
                raise map_error(error) from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        engine = self._awriter if write else self._areader
        if engine is None:
            return self._run(plan, write=write)
        if not self._ready:
            await self.acreate_all()
        step = next(plan)
        for attempt in (1, 2):
            progress = _Progress()
            try:
                async with engine.begin() as conn:
                    return await _adrive(conn, plan, step, progress)
            except (exc.SQLAlchemyError, OSError) as error:
                if attempt == 1 and _retry(error, progress):
                    continue
                raise map_error(error) from error
        raise AssertionError("unreachable")  # pragma: no cover


class _Progress:
    """Whether a statement of this attempt has completed (then it is never retried)."""

    __slots__ = ("ran",)

    def __init__(self) -> None:
        self.ran = False


def _retry(error: BaseException, progress: _Progress) -> bool:
    """Run the call again on a fresh connection: only if its pooled one was dead before
    any statement completed.

    Without a pre-ping round trip, a pooled connection the server dropped
    (restart, idle timeout, failover) is found dead by the first statement
    sent on it, and SQLAlchemy then invalidates it and every older pooled
    connection.  Nothing can have been committed: a write's transaction dies
    with its connection, and a read (or a sliding read, which is idempotent)
    changes nothing worth keeping.  Once a statement has completed, a failure
    may follow a commit the server made, so it is never retried blindly.
    """
    return not progress.ran and isinstance(error, exc.DBAPIError) and error.connection_invalidated


def _drive(conn: sa.Connection, plan: Plan[T], step: Any, progress: _Progress) -> T:
    while True:
        outcome = _outcome(conn.execute(*step))
        progress.ran = True
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _outcome(result: sa.CursorResult[Any]) -> Outcome:
    return Outcome(result.all() if result.returns_rows else (), result.rowcount)


async def _adrive(conn: AsyncConnection, plan: Plan[T], step: Any, progress: _Progress) -> T:
    while True:
        outcome = _outcome(await conn.execute(*step))
        progress.ran = True
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
