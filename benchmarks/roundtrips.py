"""Backend round trips per request kind, counted where they happen.

Redis: every ``send_packed_command`` of redis-py (sync and asyncio) is one
write to the socket followed by reading its replies, i.e. one round trip; a
pipeline or MULTI/EXEC block is one round trip carrying several commands.
Commands are counted where redis-py sends or pipelines them.  Counting in
the client (instead of the server's ``INFO commandstats``) keeps other users
of a shared Redis out of the numbers.

PostgreSQL: libpq's protocol trace (``pgconn.trace``) is switched on for
every pooled psycopg connection of the backend; each ``ReadyForQuery`` the
server sends closes one round trip, and each ``Query`` or ``Bind`` the client
sends is one statement.  So implicit ``BEGIN``, ``COMMIT``/``ROLLBACK`` and
the pool's pre-ping are all counted, exactly as they cross the wire.

SQLite runs in process: there are no round trips, and the figure shown is
the statements executed (SQLAlchemy ``before_cursor_execute``).

For sessionware contenders the count is split by the backend call that made
it: ``load`` (before the app runs) and ``apply`` (the commit).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from .inprocess import Prepared


@dataclass
class Counts:
    """Running totals; ``snapshot()`` is what phase attribution differences."""

    round_trips: int = 0
    commands: int = 0
    phases: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> tuple[int, int]:
        return self.round_trips, self.commands


@contextmanager
def phases(backend: Any, counts: Counts) -> Iterator[None]:
    """Attribute round trips to the sessionware backend call that made them."""
    names = ("load", "aload", "apply", "aapply")

    def account(phase: str, before: tuple[int, int]) -> None:
        counts.phases[phase] = counts.phases.get(phase, 0) + counts.snapshot()[0] - before[0]

    def wrap(name: str, original: Any) -> Any:
        phase = "load" if "load" in name else "apply"
        if inspect.iscoroutinefunction(original):

            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                before = counts.snapshot()
                try:
                    return await original(*args, **kwargs)
                finally:
                    account(phase, before)

            return awrapper

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before = counts.snapshot()
            try:
                return original(*args, **kwargs)
            finally:
                account(phase, before)

        return wrapper

    for name in names:
        setattr(backend, name, wrap(name, getattr(backend, name)))
    try:
        yield
    finally:
        for name in names:
            delattr(backend, name)  # back to the class's methods


@contextmanager
def count_redis(backend: Any = None) -> Iterator[Counts]:
    """Count Redis round trips and commands made by this process while inside."""
    from redis import connection as sync_connection
    from redis.asyncio import connection as async_connection

    counts = Counts()
    patched: list[tuple[Any, str, Any]] = []

    def patch(cls: Any, name: str, wrapper: Any) -> None:
        patched.append((cls, name, cls.__dict__[name]))
        setattr(cls, name, wrapper)

    sync_cls = sync_connection.AbstractConnection
    async_cls = async_connection.AbstractConnection
    sync_send, async_send = sync_cls.send_packed_command, async_cls.send_packed_command

    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts.round_trips += 1
        return sync_send(self, *args, **kwargs)

    async def asend(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts.round_trips += 1
        return await async_send(self, *args, **kwargs)

    def wrap_send_command(original: Any) -> Any:
        def send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
            counts.commands += 1
            return original(self, *args, **kwargs)

        return send_command

    def wrap_pack_commands(original: Any) -> Any:
        def pack_commands(self: Any, commands: Iterable[Any]) -> Any:
            commands = list(commands)
            counts.commands += len(commands)
            return original(self, commands)

        return pack_commands

    patch(sync_cls, "send_packed_command", send)
    patch(async_cls, "send_packed_command", asend)
    for cls in (sync_cls, async_cls):
        patch(cls, "send_command", wrap_send_command(cls.send_command))
        patch(cls, "pack_commands", wrap_pack_commands(cls.pack_commands))
    try:
        yield counts
    finally:
        for cls, name, original in reversed(patched):
            setattr(cls, name, original)


class _PgTrace(Counts):
    """Round trips and statements read back from libpq trace files."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory
        self.traced: dict[int, tuple[Any, str]] = {}

    def on_checkout(self, dbapi: Any, record: Any, proxy: Any) -> None:
        pgconn = getattr(dbapi, "pgconn", None) or getattr(
            getattr(dbapi, "_connection", None), "pgconn", None
        )
        if pgconn is None or id(pgconn) in self.traced:
            return
        from psycopg import pq

        path = os.path.join(self.directory, f"{len(self.traced)}.trace")
        pgconn.trace(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self.traced[id(pgconn)] = (pgconn, path)

    def snapshot(self) -> tuple[int, int]:
        trips = statements = 0
        for _, path in self.traced.values():
            with open(path) as trace:
                for line in trace:
                    fields = line.split("\t", 3)
                    if len(fields) < 3:
                        continue
                    if fields[0] == "B" and fields[2] == "ReadyForQuery":
                        trips += 1
                    elif fields[0] == "F" and fields[2] in ("Query", "Bind"):
                        statements += 1
        return trips, statements

    def close(self) -> None:
        for pgconn, _ in self.traced.values():
            with suppress(Exception):  # a connection closed meanwhile: nothing to undo
                pgconn.untrace()  # closes the file it was given


def _pools(backend: Any) -> list[Any]:
    pools = [backend.engine.pool]
    if getattr(backend, "async_engine", None) is not None:
        pools.append(backend.async_engine.sync_engine.pool)
    return pools


@contextmanager
def count_postgres(backend: Any) -> Iterator[Counts]:
    """Trace every pooled connection of ``backend`` (from its next checkout on)."""
    from sqlalchemy import event

    directory = tempfile.mkdtemp(prefix="sw-bench-pgtrace-")
    tracer = _PgTrace(directory)
    pools = _pools(backend)
    for pool in pools:
        event.listen(pool, "checkout", tracer.on_checkout)
    try:
        yield tracer
    finally:
        for pool in pools:
            event.remove(pool, "checkout", tracer.on_checkout)
        tracer.close()
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)


@contextmanager
def count_statements(backend: Any = None) -> Iterator[Counts]:
    """SQLite: statements executed (in process, so no round trips exist)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts = Counts()

    def on_statement(*args: Any, **kwargs: Any) -> None:
        counts.commands += 1
        counts.round_trips += 1

    event.listen(Engine, "before_cursor_execute", on_statement)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", on_statement)


COUNTERS: dict[str, Callable[[Any], AbstractContextManager[Counts]]] = {
    "redis": count_redis,
    "postgres": count_postgres,
    "sqlite": count_statements,
}


def measure(
    prepared: list[Prepared], cases: Iterable[str], n: int = 20
) -> dict[str, dict[str, dict[str, float]]]:
    """Round trips and commands per request, for contenders backed by Redis or SQL."""
    cases = list(cases)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for p in prepared:
        counter = COUNTERS.get(p.contender.store)
        if counter is None:
            continue
        backend = p.built.backend
        row: dict[str, dict[str, float]] = {}
        for case in p.cases(cases):
            with counter(backend) as counts:
                # Connect pools and start traces outside the count, past psycopg's
                # prepare_threshold (5): its one-time server-side PREPARE costs one
                # extra round trip per pooled connection, not one per request.
                p.block(case, 8)
                trips, commands = counts.snapshot()
                counts.phases.clear()
                with phases(backend, counts) if backend is not None else nullcontext():
                    p.block(case, n)
                after = counts.snapshot()
            row[case] = {
                "round_trips": (after[0] - trips) / n,
                "commands": (after[1] - commands) / n,
            }
            if backend is not None:
                row[case]["load"] = counts.phases.get("load", 0) / n
                row[case]["apply"] = counts.phases.get("apply", 0) / n
        out[p.contender.name] = row
    return out
