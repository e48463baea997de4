"""Backend round trips per request kind, counted at the client library.

Redis: every ``send_packed_command`` of redis-py (sync and asyncio) is one
write to the socket followed by reading its replies, i.e. one round trip; a
pipeline or MULTI/EXEC block is one round trip carrying several commands.
Commands are counted where redis-py sends or pipelines them.  Counting in the client
(instead of the server's ``INFO commandstats``) keeps other users of a
shared Redis out of the numbers.

SQL: SQLAlchemy engine events count statements and transactions.  With
psycopg, ``BEGIN`` travels on its own and ``COMMIT`` too, so round trips to
PostgreSQL ~= statements + begins + commits + rollbacks; for SQLite (in
process) the same figure is "statements and transaction boundaries".
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from .inprocess import Prepared


@dataclass
class Counts:
    round_trips: int = 0
    commands: int = 0
    #: Round trips by the backend call that made them ("load", "apply"); sessionware only.
    phases: dict[str, int] = field(default_factory=dict)
    phase: str = "other"

    def trip(self) -> None:
        self.round_trips += 1
        self.phases[self.phase] = self.phases.get(self.phase, 0) + 1


@contextmanager
def phases(backend: Any, counts: Counts) -> Iterator[None]:
    """Attribute round trips to the sessionware backend call that made them."""
    names = ("load", "aload", "apply", "aapply")
    originals = {name: getattr(backend, name) for name in names}

    def wrap(name: str, original: Any) -> Any:
        phase = "load" if "load" in name else "apply"
        if inspect.iscoroutinefunction(original):

            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                counts.phase = phase
                try:
                    return await original(*args, **kwargs)
                finally:
                    counts.phase = "other"

            return awrapper

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts.phase = phase
            try:
                return original(*args, **kwargs)
            finally:
                counts.phase = "other"

        return wrapper

    for name, original in originals.items():
        setattr(backend, name, wrap(name, original))
    try:
        yield
    finally:
        for name in names:
            delattr(backend, name)  # back to the class's methods


@contextmanager
def count_redis() -> Iterator[Counts]:
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
        counts.trip()
        return sync_send(self, *args, **kwargs)

    async def asend(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts.trip()
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


@contextmanager
def count_sql() -> Iterator[Counts]:
    """Count SQL statements (``commands``) and statements + transaction ends (``round_trips``)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts = Counts()

    def on_statement(*args: Any, **kwargs: Any) -> None:
        counts.commands += 1
        counts.trip()

    def on_boundary(*args: Any, **kwargs: Any) -> None:
        counts.trip()

    hooks = [
        ("before_cursor_execute", on_statement),
        ("begin", on_boundary),
        ("commit", on_boundary),
        ("rollback", on_boundary),
    ]
    for name, hook in hooks:
        event.listen(Engine, name, hook)
    try:
        yield counts
    finally:
        for name, hook in hooks:
            event.remove(Engine, name, hook)


def measure(
    prepared: list[Prepared], cases: Iterable[str], n: int = 20
) -> dict[str, dict[str, dict[str, float]]]:
    """Round trips and commands per request, for contenders backed by Redis or SQL."""
    cases = list(cases)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for p in prepared:
        store = p.contender.store
        if store not in ("redis", "postgres", "sqlite"):
            continue
        counter = count_redis if store == "redis" else count_sql
        row: dict[str, dict[str, float]] = {}
        for case in p.cases(cases):
            template = p.template(case)
            p.driver.block(template, 3)  # connect pools outside the count
            backend = p.built.backend
            with counter() as counts, phases(backend, counts) if backend else nullcontext():
                p.driver.block(template, n)
            row[case] = {"round_trips": counts.round_trips / n, "commands": counts.commands / n}
            if backend is not None:
                row[case]["load"] = counts.phases.get("load", 0) / n
                row[case]["apply"] = counts.phases.get("apply", 0) / n
        out[p.contender.name] = row
    return out
