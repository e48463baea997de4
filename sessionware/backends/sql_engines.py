"""Engines for :class:`~sessionware.backends.sql.SQLBackend`: drivers, SQLite setup, faults.

One ordinary SQLAlchemy URL yields two engines: a sync one for the WSGI face
and an async one for the ASGI face.  The async driver is derived only where
the choice is unambiguous (:func:`derive_urls`); anything else asks for the
engines to be passed explicitly.

SQLite gets two settings SQLAlchemy's docs recommend for real transactions:
the driver's own implicit ``BEGIN`` is switched off and the ``begin`` event
emits the statement instead, so a write transaction can start with ``BEGIN
IMMEDIATE`` (it takes the write lock up front and waits up to the busy
timeout for it, instead of failing half-way through with ``database is
locked``), while reads run without any transaction (each is one statement).
WAL journaling lets those reads proceed while a write is in progress.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from ..errors import BackendError, BackendUnavailable, ConfigError, MissingExtra

__all__ = [
    "TX_OPTION",
    "derive_urls",
    "is_memory",
    "make_engine",
    "map_error",
    "render",
    "setup_sqlite",
]

#: Execution option naming how a SQLite transaction starts: "immediate" or "read".
TX_OPTION = "sessionware_tx"

#: pip package per driver; the ones in the ``sql`` extra say so.
_PACKAGES = {"aiosqlite": "aiosqlite", "psycopg": "psycopg", "psycopg_async": "psycopg",
             "asyncpg": "asyncpg", "psycopg2": "psycopg2-binary"}  # fmt: skip
_IN_EXTRA = {"aiosqlite", "psycopg"}


def derive_urls(url: str | URL) -> tuple[URL, URL | None]:
    """The sync and async URLs for ``url``; the async one is None for in-memory SQLite.

    ``sqlite:///f.db`` → pysqlite + aiosqlite; ``postgresql://`` and
    ``postgresql+psycopg://`` → psycopg 3 for both faces;
    ``postgresql+asyncpg://`` → psycopg (sync) + asyncpg (async);
    ``postgresql+psycopg2://`` → psycopg2 (sync) + psycopg 3 (async).
    """
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise ConfigError(f"not a database URL: {error}") from None
    name, _, driver = parsed.drivername.partition("+")
    if name == "sqlite":
        if driver not in ("", "pysqlite", "aiosqlite"):
            raise ConfigError(f"cannot derive both engines for sqlite+{driver}; pass engine=")
        sync = parsed.set(drivername="sqlite")
        return sync, None if is_memory(sync) else parsed.set(drivername="sqlite+aiosqlite")
    if name in ("postgresql", "postgres"):
        pairs = {"": ("psycopg", "psycopg"), "psycopg": ("psycopg", "psycopg"),
                 "psycopg_async": ("psycopg", "psycopg"), "asyncpg": ("psycopg", "asyncpg"),
                 "psycopg2": ("psycopg2", "psycopg")}  # fmt: skip
        if driver not in pairs:
            raise ConfigError(
                f"cannot derive an async driver for postgresql+{driver}; "
                "pass engine= and async_engine= (or use postgresql+psycopg://)"
            )
        sync_driver, async_driver = pairs[driver]
        return (
            parsed.set(drivername=f"postgresql+{sync_driver}"),
            parsed.set(drivername=f"postgresql+{async_driver}"),
        )
    raise ConfigError(f"SQLBackend supports sqlite and postgresql URLs, not {name!r}")


def is_memory(url: URL) -> bool:
    """True for an in-memory SQLite URL (``sqlite://``, ``sqlite:///:memory:``)."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def make_engine(
    url: URL,
    *,
    is_async: bool,
    busy_timeout: float,
    connect_timeout: float,
    pool_pre_ping: bool,
    sqlite_wal: bool,
) -> Any:
    """A configured :class:`Engine` or :class:`AsyncEngine` for ``url``.

    A missing driver raises :class:`~sessionware.errors.MissingExtra` naming
    the package to install.
    """
    args: dict[str, Any] = {}
    connect: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        connect["timeout"] = busy_timeout  # the busy timeout, in seconds
        if is_memory(url):
            args["poolclass"] = StaticPool  # one connection: one database
            connect["check_same_thread"] = False
    else:
        args["pool_pre_ping"] = pool_pre_ping
        # A write waiting for a row or advisory lock gives up after busy_timeout,
        # like SQLite's busy timeout, instead of hanging the request.
        lock_ms = str(max(1, round(busy_timeout * 1000)))
        if url.get_driver_name() == "asyncpg":
            if "timeout" not in url.query:
                connect["timeout"] = connect_timeout
            connect["server_settings"] = {"lock_timeout": lock_ms}
        else:
            if "connect_timeout" not in url.query:
                connect["connect_timeout"] = max(1, round(connect_timeout))
            if "options" not in url.query:
                connect["options"] = f"-c lock_timeout={lock_ms}"
    engine: Engine | AsyncEngine
    try:
        if is_async:
            engine = create_async_engine(url, connect_args=connect, **args)
            sync_engine = engine.sync_engine
        else:
            engine = sync_engine = sa.create_engine(url, connect_args=connect, **args)
    except ImportError as error:
        raise _missing(url, error) from error
    if sqlite:
        setup_sqlite(sync_engine, wal=sqlite_wal and not is_memory(url))
    return engine


#: Tries at switching a fresh database to WAL before settling for rollback mode.
WAL_ATTEMPTS = 20


def setup_sqlite(engine: Engine, *, wal: bool) -> None:
    """Let sessionware decide how transactions begin on this SQLite engine.

    Also applied to a SQLite engine passed to ``SQLBackend``; connections
    without sessionware's execution option get a plain ``BEGIN``, which is
    what the driver would have sent.
    """
    if not event.contains(engine, "begin", _begin):
        event.listen(engine, "begin", _begin)
    if wal and not event.contains(engine, "connect", _enable_wal):
        event.listen(engine, "connect", _enable_wal)


def _begin(conn: sa.Connection) -> None:
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and dbapi.isolation_level is not None:
        dbapi.isolation_level = None  # the driver must not send its own BEGIN
    mode = conn.get_execution_options().get(TX_OPTION)
    if mode == "read":
        return  # a single SELECT is atomic on its own; no lock held
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")


def _enable_wal(dbapi: Any, record: Any) -> None:
    """Switch a new connection's database to WAL, tolerating a concurrent switch.

    WAL is a property of the database file, so it only has to succeed once.
    Changing the journal mode does not wait on SQLite's busy handler: when
    several threads or processes open a fresh database at once, all but one
    get "database is locked".  On the blocking driver the losers look again
    (the winner has usually switched it already) and retry briefly; if the
    file still is not in WAL mode they carry on in rollback mode, which is
    slower but correct.  The async driver (aiosqlite) must not sleep on the
    event loop, so it makes a single attempt as before.
    """
    cursor = dbapi.cursor()
    try:
        if not isinstance(dbapi, sqlite3.Connection):
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        for attempt in range(WAL_ATTEMPTS):
            try:
                mode = cursor.execute("PRAGMA journal_mode").fetchone()
                if mode is not None and str(mode[0]).lower() == "wal":
                    return
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                time.sleep(0.005 * (attempt + 1))
    finally:
        cursor.close()


def _missing(url: URL, error: ImportError) -> MissingExtra:
    driver = url.get_driver_name()
    package = _PACKAGES.get(driver, error.name or driver)
    missing = MissingExtra("sql", package)
    if package not in _IN_EXTRA:
        missing.msg = f"{package} is required for {url.drivername} URLs: pip install {package}"
        missing.args = (missing.msg,)
    return missing


def map_error(error: BaseException) -> BackendError:
    """The sessionware error for a driver or pool failure (raise it ``from`` the original).

    Connection refused, dropped, timed out and ``database is locked`` all
    surface as ``OperationalError``/``InterfaceError`` or as an invalidated
    connection: the store is unavailable, the request fails closed, and the
    pool (with ``pool_pre_ping``) reconnects once the database is back.
    """
    unavailable = isinstance(
        error,
        exc.OperationalError
        | exc.InterfaceError
        | exc.TimeoutError
        | exc.DisconnectionError
        | OSError,
    ) or (isinstance(error, exc.DBAPIError) and error.connection_invalidated)
    kind = BackendUnavailable if unavailable else BackendError
    return kind(f"SQL session store failed: {_cause(error)}")


def _cause(error: BaseException) -> str:
    """The driver's own first line ("connection refused", "database is locked").

    Never SQLAlchemy's full text, which quotes the statement and its bound
    parameters (hashed keys, session data); drivers do not echo passwords.
    """
    origin = getattr(error, "orig", None) or error
    lines = str(origin).strip().splitlines()
    text = lines[0].strip()[:200] if lines else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def render(url: URL) -> str:
    """``url`` with the password hidden, for messages and ``repr``."""
    return url.render_as_string(hide_password=True)
