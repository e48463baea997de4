"""SQLBackend on SQLite and PostgreSQL: conformance, schema, URLs, durability, expiry, faults."""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from sessionware.backends import from_url
from sessionware.backends.sql import SQLBackend
from sessionware.backends.sql_engines import derive_urls
from sessionware.backends.sql_schema import make_metadata, make_tables
from sessionware.errors import BackendError, BackendUnavailable, ConfigError, MissingExtra
from sessionware.records import Create, Patch

from .conformance import BackendConformance, TouchOnLoadConformance, make_record
from .sql_support import Store, make_store, postgres_url, store_fixture
from .tombstones import TombstoneConformance

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    yield from store_fixture(request, tmp_path)


class TestSQLiteFileConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    @pytest.fixture
    def backend(self, tmp_path: Any) -> Iterator[SQLBackend]:
        backend = SQLBackend(f"sqlite:///{tmp_path}/conformance.db")
        yield backend
        backend.close()


class TestSQLiteMemoryConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    @pytest.fixture
    def backend(self) -> Iterator[SQLBackend]:
        backend = SQLBackend("sqlite://")
        yield backend
        backend.close()


@pytest.mark.postgres
class TestPostgresConformance(BackendConformance, TouchOnLoadConformance, TombstoneConformance):
    @pytest.fixture
    def backend(self, tmp_path: Any) -> Iterator[SQLBackend]:
        store = make_store("postgres", tmp_path)
        yield store.backend()
        store.teardown()


# -- schema and URLs -------------------------------------------------------------


def test_schema_is_plain_sqlalchemy_metadata_for_alembic() -> None:
    """The tables, their indexes and the unique handle are ordinary SQLAlchemy objects."""
    metadata = make_metadata("app_sessions")
    # 0.2 adds the tombstone table (#17): the issue changes the set this pinned.
    assert set(metadata.tables) == {"app_sessions", "app_sessions_data", "app_sessions_endings"}
    sessions = metadata.tables["app_sessions"]
    indexed = {tuple(c.name for c in index.columns) for index in sessions.indexes}
    assert indexed == {("user_id",), ("expires_at",)}
    uniques = [c for c in sessions.constraints if isinstance(c, sa.UniqueConstraint)]
    assert [[col.name for col in u.columns] for u in uniques] == [["handle"]]
    assert [c.name for c in sessions.primary_key.columns] == ["key"]


def test_tables_join_an_existing_metadata() -> None:
    """make_tables(metadata=app_metadata) adds the tables next to the app's own."""
    app_metadata = sa.MetaData()
    sa.Table("users", app_metadata, sa.Column("id", sa.Integer, primary_key=True))
    tables = make_tables(metadata=app_metadata, schema="auth")
    assert tables.metadata is app_metadata
    assert set(app_metadata.tables) == {
        "users",
        "auth.sessionware_sessions",
        "auth.sessionware_sessions_data",
        "auth.sessionware_sessions_endings",  # 0.2: tombstones (#17)
    }


def test_create_tables_false_leaves_the_schema_to_the_app(tmp_path: Any) -> None:
    """With create_tables=False nothing is created until create_all() is called."""
    backend = SQLBackend(f"sqlite:///{tmp_path}/s.db", create_tables=False)
    with pytest.raises(BackendError):
        backend.load("k", time.time())
    assert sa.inspect(backend.engine).get_table_names() == []
    backend.create_all()
    assert set(sa.inspect(backend.engine).get_table_names()) == {
        "sessionware_sessions",
        "sessionware_sessions_data",
        "sessionware_sessions_endings",  # 0.2: tombstones (#17)
    }
    assert backend.load("k", time.time()) is None
    backend.close()


@pytest.mark.parametrize(
    ("url", "sync", "async_"),
    [
        pytest.param("sqlite:///f.db", "sqlite:///f.db", "sqlite+aiosqlite:///f.db", id="sqlite"),
        pytest.param(
            "sqlite+aiosqlite:///f.db", "sqlite:///f.db", "sqlite+aiosqlite:///f.db", id="aiosqlite"
        ),
        pytest.param("sqlite://", "sqlite://", None, id="sqlite-memory"),
        pytest.param(
            "postgresql://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db",
            id="postgresql",
        ),
        pytest.param(
            "postgres://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db",
            id="postgres-alias",
        ),
        pytest.param(
            "postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db",
            "postgresql+asyncpg://u@h/db", id="asyncpg",
        ),
        pytest.param(
            "postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db",
            "postgresql+psycopg://u@h/db", id="psycopg2",
        ),
    ],
)  # fmt: skip
def test_one_url_gives_both_drivers(url: str, sync: str, async_: str | None) -> None:
    """The async driver is derived from the ordinary URL where the choice is unambiguous."""
    got_sync, got_async = derive_urls(url)
    assert got_sync.render_as_string() == sync
    assert (got_async.render_as_string() if got_async else None) == async_


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql+pg8000://u@h/db", "sqlite+pysqlcipher:///f.db", "::"]
)
def test_urls_without_a_clear_driver_pair_are_config_errors(url: str) -> None:
    """Unsupported databases and ambiguous drivers are refused at construction, by name."""
    with pytest.raises(ConfigError):
        SQLBackend(url)


@pytest.mark.skipif(importlib.util.find_spec("asyncpg") is not None, reason="asyncpg installed")
def test_missing_driver_says_what_to_install() -> None:
    """A URL whose driver is not installed raises MissingExtra naming the package."""
    with pytest.raises(MissingExtra, match="pip install asyncpg"):
        SQLBackend("postgresql+asyncpg://postgres@127.0.0.1:1/test")


def test_from_url_and_repr_hide_the_password() -> None:
    """backends.from_url builds an SQLBackend, and its repr never shows the password."""
    backend = from_url("postgresql://app:s3cret@127.0.0.1:1/test")
    assert isinstance(backend, SQLBackend)
    assert "s3cret" not in repr(backend) and "***" in repr(backend)
    backend.close()


# -- durability --------------------------------------------------------------------


def test_sqlite_file_survives_a_restart(tmp_path: Any) -> None:
    """A session written by one backend is read back by a brand-new backend on the same file."""
    url, now = f"sqlite:///{tmp_path}/durable.db", time.time()
    first = SQLBackend(url)
    rec = make_record(now, user="ivan", data={"cart": "[1,2]"}, info={"ip": "192.0.2.1"})
    first.apply([Create(rec)], now)
    first.apply([Patch(rec.key, set={"theme": '"dark"'}, extra={"gen": 2})], now)
    first.close()
    asyncio.run(first.aclose())

    second = SQLBackend(url)
    got = second.load(rec.key, now)
    assert got is not None
    assert got.data == {"cart": "[1,2]", "theme": '"dark"'}
    assert got.info == {"ip": "192.0.2.1"} and got.extra == {"gen": 2}

    async def async_load() -> Any:
        try:
            return await second.aload(rec.key, now)
        finally:
            await second.aclose()

    assert asyncio.run(async_load()) == got
    second.close()


# -- expiry ------------------------------------------------------------------------


def test_purge_expired_removes_expired_sessions_and_their_data(store: Store) -> None:
    """purge_expired deletes every expired session with its data rows and returns the count."""
    backend, now = store.backend(), time.time()
    expired = [make_record(now, ttl=10, data={"a": "1", "b": "2"}) for _ in range(5)]
    live = [make_record(now, ttl=1000, data={"a": "1"}) for _ in range(2)]
    backend.apply([Create(r) for r in expired + live], now)
    assert backend.purge_expired(now + 60) == 5
    assert store.count("sessions") == 2 and store.count("data") == 2
    assert backend.purge_expired(now + 60) == 0
    assert all(backend.load(r.key, now + 60) is not None for r in live)


def test_purge_expired_honours_limit_and_has_an_async_twin(store: Store) -> None:
    """A limit caps one purge; apurge_expired removes the rest."""
    backend, now = store.backend(), time.time()
    backend.apply([Create(make_record(now, ttl=5)) for _ in range(7)], now)
    assert backend.purge_expired(now + 10, limit=3) == 3

    async def purge_rest() -> int:
        try:
            return await backend.apurge_expired(now + 10)
        finally:
            await backend.aclose()

    assert asyncio.run(purge_rest()) == 4
    assert store.count("sessions") == 0


def test_writes_sweep_a_bounded_batch_of_expired_rows(store: Store) -> None:
    """Normal writes delete expired rows a few at a time, never all at once (EX-05)."""
    backend = store.backend(sweep_every=1, sweep_batch=3)
    now = time.time()
    backend.apply([Create(make_record(now - 100, ttl=10)) for _ in range(8)], now - 100)
    backend.apply([Create(make_record(now))], now)
    assert store.count("sessions") == 9 - 3
    backend.apply([Create(make_record(now))], now)
    assert store.count("sessions") == 10 - 6


# -- faults ------------------------------------------------------------------------


def test_unreachable_postgres_is_backend_unavailable() -> None:
    """A closed port surfaces as BackendUnavailable on both faces, never a driver error."""
    backend = SQLBackend("postgresql+psycopg://postgres@127.0.0.1:1/test", connect_timeout=2)
    now = time.time()
    with pytest.raises(BackendUnavailable) as caught:
        backend.load("k", now)
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    with pytest.raises(BackendUnavailable):
        backend.apply([Create(make_record(now))], now)
    with pytest.raises(BackendUnavailable):
        backend.purge_expired()

    async def async_face() -> None:
        try:
            with pytest.raises(BackendUnavailable):
                await backend.aload("k", now)
            with pytest.raises(BackendUnavailable):
                await backend.aapply([Create(make_record(now))], now)
        finally:
            await backend.aclose()

    asyncio.run(async_face())
    backend.close()


def test_a_lock_held_past_busy_timeout_is_backend_unavailable(store: Store) -> None:
    """A write blocked beyond busy_timeout fails as BackendUnavailable, then works again."""
    backend, now = store.backend(busy_timeout=0.2), time.time()
    rec = make_record(now)
    backend.apply([Create(rec)], now)

    async def async_write() -> None:
        try:
            await backend.aapply([Patch(rec.key, set={"a": "1"})], now)
        finally:
            await backend.aclose()

    with store.holding(rec.key):
        with pytest.raises(BackendUnavailable):
            backend.apply([Patch(rec.key, set={"a": "1"})], now)
        with pytest.raises(BackendUnavailable):
            asyncio.run(async_write())
        assert backend.load(rec.key, now) is not None  # readers never wait for writers
    assert backend.apply([Patch(rec.key, set={"a": "1"})], now).ok
    got = backend.load(rec.key, now)
    assert got is not None and got.data == {"a": "1"}


def test_sqlite_locked_by_another_program_is_backend_unavailable(tmp_path: Any) -> None:
    """Another program's open write transaction on the file is BackendUnavailable, not a crash."""
    path, now = tmp_path / "locked.db", time.time()
    backend = SQLBackend(f"sqlite:///{path}", busy_timeout=0.2)
    backend.apply([Create(make_record(now))], now)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailable) as caught:
            backend.apply([Create(make_record(now))], now)
        assert "locked" in str(caught.value.__cause__)
    finally:
        other.execute("ROLLBACK")
        other.close()
    backend.close()


@pytest.mark.postgres
def test_killed_postgres_connections_are_replaced_transparently() -> None:
    """After the server drops every pooled connection, the next calls just work (pre-ping)."""
    name = f"sw-kill-{uuid.uuid4().hex[:8]}"
    url = sa.make_url(postgres_url()).update_query_dict({"application_name": name})
    store = Store(url.render_as_string(hide_password=False), f"sw_test_{uuid.uuid4().hex[:12]}")
    try:
        backend, now = store.backend(), time.time()
        rec = make_record(now)
        backend.apply([Create(rec)], now)

        async def warm() -> None:
            assert await backend.aload(rec.key, now) is not None

        loop = asyncio.new_event_loop()
        loop.run_until_complete(warm())
        killer = sa.create_engine(postgres_url(), poolclass=sa.pool.NullPool)
        with killer.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": name},
            ).scalar_one()
        killer.dispose()
        assert killed >= 2  # the sync and the async pool each held one
        assert backend.load(rec.key, now) is not None
        assert loop.run_until_complete(backend.aload(rec.key, now)) is not None
        loop.run_until_complete(backend.aclose())
        loop.close()
    finally:
        store.teardown()


def test_engines_passed_in_are_used_by_both_faces(tmp_path: Any) -> None:
    """engine= is used as given; the async engine is derived from its URL and sees the same rows."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/given.db")
    backend, now = SQLBackend(engine=engine), time.time()
    assert backend.engine is engine and backend.async_engine is not None
    rec = make_record(now, data={"a": "1"})
    backend.apply([Create(rec)], now)

    async def read_and_patch() -> Any:
        try:
            assert (await backend.aapply([Patch(rec.key, set={"b": "2"})], now)).ok
            return await backend.aload(rec.key, now)
        finally:
            await backend.aclose()

    got = asyncio.run(read_and_patch())
    assert got is not None and got.data == {"a": "1", "b": "2"}
    backend.close()


@pytest.mark.postgres
def test_tables_can_live_in_a_postgres_schema() -> None:
    """schema= places both tables in that PostgreSQL schema."""
    name = f"sw_schema_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url(), poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    backend = SQLBackend(postgres_url(), schema=name)
    try:
        now = time.time()
        rec = make_record(now, user="kim", data={"a": "1"})
        backend.apply([Create(rec)], now)
        assert [r.key for r in backend.by_user("kim", now)] == [rec.key]
        assert set(sa.inspect(admin).get_table_names(schema=name)) == {
            "sessionware_sessions",
            "sessionware_sessions_data",
            "sessionware_sessions_endings",  # 0.2: tombstones (#17)
        }
    finally:
        backend.close()
        with admin.begin() as conn:
            conn.execute(sa.schema.DropSchema(name, cascade=True))
        admin.dispose()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"table": "sessions; drop"}, id="table-name"),
        pytest.param({"sweep_every": 0}, id="sweep-every"),
        pytest.param({"url": None}, id="no-url"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    """Unsafe or missing settings are refused at construction with ConfigError."""
    kwargs: dict[str, Any] = {"url": "sqlite://", **options}
    with pytest.raises(ConfigError):
        SQLBackend(**kwargs)


def test_cleanup_command_purges_a_sqlite_file(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sessionware cleanup --backend sqlite:///...` removes expired rows and says how many."""
    from sessionware.cli.command import main

    url, now = f"sqlite:///{tmp_path}/app.db", time.time()
    backend = SQLBackend(url)
    backend.apply([Create(make_record(now - 100, ttl=10)) for _ in range(3)], now - 100)
    backend.apply([Create(make_record(now, ttl=600))], now)
    backend.close()
    assert main(["cleanup", "--backend", url]) == 0
    assert "removed 3 expired session records" in capsys.readouterr().out
    reopened = SQLBackend(url)
    assert reopened.purge_expired() == 0
    reopened.close()
