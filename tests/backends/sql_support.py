"""Shared pieces of the SQL backend tests: the PostgreSQL service and store factories.

Kept out of ``conftest.py`` so other backends' test helpers cannot collide
with it, and importable by the processes the concurrency tests spawn.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from sessionware.backends.sql import SQLBackend
from sessionware.records import Patch
from tests.ci import in_ci

PG_URL = os.environ.get(
    "SESSIONWARE_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@functools.cache
def _postgres_down() -> str | None:
    """Why the test PostgreSQL cannot be used, or None (probed once per run)."""
    try:
        engine = sa.create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        shown = sa.make_url(PG_URL).render_as_string(hide_password=True)
        return f"PostgreSQL NOT TESTED: {shown} unreachable ({type(exc).__name__})"
    return None


def postgres_url() -> str:
    """The test PostgreSQL URL; skips loudly when it is down, fails when CI=true."""
    reason = _postgres_down()
    if reason is not None:
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_URL


@dataclass
class Store:
    """One database location (a SQLite file or a PostgreSQL table) and its backends."""

    url: str
    table: str
    opened: list[SQLBackend] = field(default_factory=list)

    def backend(self, **options: Any) -> SQLBackend:
        """A new backend (own engines, own pools) on this store."""
        backend = SQLBackend(self.url, table=self.table, **options)
        self.opened.append(backend)
        return backend

    def count(self, which: str = "sessions") -> int:
        """Rows in the sessions or data table, expired ones included."""
        probe = self.opened[0] if self.opened else self.backend()
        table = getattr(probe.tables, which)
        with probe.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        """Hold the write lock on session ``key`` (the whole database on SQLite) meanwhile."""
        probe = self.opened[0]
        sessions = probe.tables.sessions
        touch = sa.update(sessions).where(sessions.c.key == key)
        with probe.engine.begin() as conn:
            conn.execute(touch.values(last_active=sessions.c.last_active))
            yield

    def teardown(self) -> None:
        if self.opened and self.url.startswith("postgresql"):
            self.opened[0].metadata.drop_all(self.opened[0].engine)
        for backend in self.opened:
            backend.close()


def make_store(kind: str, tmp_path: Any) -> Store:
    """A fresh, isolated store: a new SQLite file or a new PostgreSQL table name."""
    if kind == "sqlite":
        return Store(f"sqlite:///{tmp_path}/sessions.db", "sessionware_sessions")
    return Store(postgres_url(), f"sw_test_{uuid.uuid4().hex[:12]}")


def store_fixture(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    store = make_store(request.param, tmp_path)
    try:
        yield store
    finally:
        store.teardown()


def write_keys(url: str, table: str, key: str, prefix: str, count: int, barrier: Any) -> None:
    """Process body: wait for the other writer, then patch ``count`` distinct keys."""
    backend = SQLBackend(url, table=table, create_tables=False)
    try:
        barrier.wait(timeout=60)
        for i in range(count):
            result = backend.apply([Patch(key, set={f"{prefix}{i}": str(i)})], time.time())
            assert result.ok
    finally:
        backend.close()
