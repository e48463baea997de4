"""A store written with 0.1's two-table layout keeps working after the 0.2 upgrade (#17)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from sessionware.records import Create, Delete, ended

from .conformance import make_record
from .sql_support import Store, store_fixture

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    yield from store_fixture(request, tmp_path)


def write_01_store(store: Store, now: float) -> str:
    """Create only 0.1's tables and write one signed-in session as 0.1 did (plain rows)."""
    probe = store.backend(create_tables=False, tombstones=False)
    tables = probe.tables
    with probe.engine.begin() as conn:
        tables.metadata.create_all(conn, tables=[tables.sessions, tables.data])
        conn.execute(
            sa.insert(tables.sessions).values(
                key="k-01", handle="h-01", user_id="ann", created_at=now - 60,
                last_active=now - 60, expires_at=now + 600, absolute_at=now + 3600,
                auth_time=now - 60, remember=False, info='{"ip":"127.0.0.1"}', extra="{}",
            )
        )  # fmt: skip
        conn.execute(sa.insert(tables.data).values(session_key="k-01", name="cart", value="[1]"))
    assert tables.endings is not None
    assert tables.endings.name not in sa.inspect(probe.engine).get_table_names(
        schema=tables.sessions.schema
    )
    return "k-01"


def test_a_01_store_gains_the_endings_table_and_keeps_its_sessions(store: Store) -> None:
    """0.2 on a 0.1 store: the old session loads, a logout leaves a tombstone, 0.1 tables intact."""
    now = time.time()
    key = write_01_store(store, now)
    upgraded = store.backend()
    record = upgraded.load(key, now)
    assert record is not None and record.user_id == "ann" and record.data == {"cart": "[1]"}
    assert upgraded.apply([Delete(key, ended(record, "logout", now, 3600.0))], now).ok
    tomb = upgraded.load_ending(key, now + 1)
    assert tomb is not None and tomb.reason == "logout" and tomb.handle == "h-01"
    assert upgraded.by_user("ann", now + 1) == []
    names = sa.inspect(upgraded.engine).get_table_names(schema=upgraded.tables.sessions.schema)
    assert {upgraded.tables.sessions.name, upgraded.tables.data.name} <= set(names)


def test_a_01_writer_still_serves_the_upgraded_store(store: Store) -> None:
    """A rolling deploy: a writer without tombstones reads and writes the upgraded store."""
    now = time.time()
    write_01_store(store, now)
    upgraded = store.backend()
    fresh = make_record(now, user="bo", data={"a": "1"})
    assert upgraded.apply([Create(fresh, keep_for=3600.0)], now).ok
    old = store.backend(create_tables=False, tombstones=False)
    got = old.load(fresh.key, now)
    assert got is not None and got.data == {"a": "1"}
    assert old.apply([Delete(fresh.key)], now).ok
    assert upgraded.load(fresh.key, now) is None
