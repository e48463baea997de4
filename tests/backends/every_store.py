"""Every backend as one fixture, with a dump of everything it stores (for #17's tests).

``store`` yields a :class:`Dumpable`: the backend, and ``dump()`` returning
every key and value the store holds for it (hash fields, zset members,
table rows), so a test can check that no raw session ID was written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from sessionware.backends import MemoryBackend, RedisBackend
from sessionware.backends.sql import SQLBackend

from .conftest import delete_prefix
from .sql_support import make_store

KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("cluster", id="cluster", marks=pytest.mark.redis),
]


@dataclass
class Dumpable:
    backend: Any
    dump: Callable[[], list[str]]


def _dump_redis(clients: list[redis.Redis], prefix: str) -> list[str]:
    out: list[str] = []
    for client in clients:
        for key in client.scan_iter(match=prefix + "*", count=500):
            out.append(key)
            kind = client.type(key)
            if kind == "hash":
                for name, value in client.hgetall(key).items():
                    out += (name, value)
            elif kind == "zset":
                out += client.zrange(key, 0, -1)
            elif kind == "string":
                out.append(client.get(key) or "")
    return out


def _dump_sql(backend: SQLBackend) -> list[str]:
    out: list[str] = []
    tables = [backend.tables.sessions, backend.tables.data, backend.tables.endings]
    with backend.engine.connect() as conn:
        for table in tables:
            assert table is not None
            for row in conn.execute(sa.select(table)):
                out += (str(v) for v in row)
    return out


def _dump_memory(backend: MemoryBackend) -> list[str]:
    # Only through the public faces: every record by its handle, every tombstone by key.
    return [repr(vars_of(backend))]


def vars_of(obj: Any) -> Any:
    """Everything reachable from ``obj``'s slots and attributes, as plain values."""
    return {name: getattr(obj, name) for name in dir(obj) if not callable(getattr(obj, name))}


def every_store(kind: str, tmp_path: Any, redis_url: Callable[[], str],
                cluster: Callable[[], str]) -> Iterator[Dumpable]:  # fmt: skip
    if kind == "memory":
        backend = MemoryBackend()
        yield Dumpable(backend, lambda: _dump_memory(backend))
    elif kind in ("sqlite", "postgres"):
        store = make_store(kind, tmp_path)
        sql = store.backend()
        try:
            yield Dumpable(sql, lambda: _dump_sql(sql))
        finally:
            store.teardown()
    else:
        url = redis_url() if kind == "redis" else cluster()
        prefix = f"swtest:{uuid.uuid4().hex}:"
        if kind == "redis":
            clients = [redis.Redis.from_url(url, decode_responses=True)]
        else:
            hosts = url.split("://", 1)[1].split(",")
            clients = [
                redis.Redis(port=int(h.rsplit(":", 1)[1]), decode_responses=True) for h in hosts
            ]
        rb = RedisBackend(url, prefix=prefix)
        try:
            yield Dumpable(rb, lambda: _dump_redis(clients, prefix))
        finally:
            rb.close()
            for client in clients:
                delete_prefix(client, prefix)
                client.close()
