"""LazySession: every way into the data loads it first, so nothing reads an empty session."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sessionware.lazy import LazySession
from sessionware.records import Record, encode
from sessionware.session import Session

RECORD = Record(
    key="k",
    handle="h",
    created_at=1.0,
    last_active=1.0,
    expires_at=2e9,
    absolute_at=2e9,
    user_id="ada",
    data={"a": encode(1), "cart": encode([1])},
)


def lazy() -> tuple[LazySession, list[int]]:
    loads: list[int] = []

    def loader() -> Session:
        loads.append(1)
        session = Session(RECORD)
        session.presented = True
        return session

    return LazySession(loader=loader), loads


READS: list[tuple[str, Callable[[LazySession], Any], Any]] = [
    ("dict()", dict, {"a": 1, "cart": [1]}),
    ("json", lambda s: json.loads(json.dumps(s)), {"a": 1, "cart": [1]}),
    ("in", lambda s: "a" in s, True),
    ("len", len, 2),
    ("list", list, ["a", "cart"]),
    ("==", lambda s: s == {"a": 1, "cart": [1]}, True),
    ("|", lambda s: s | {"b": 2}, {"a": 1, "cart": [1], "b": 2}),
    ("copy", lambda s: s.copy(), {"a": 1, "cart": [1]}),
    ("user_id", lambda s: s.user_id, "ada"),
    ("is_new", lambda s: s.is_new, False),
    ("handle", lambda s: s.handle, "h"),
]


@pytest.mark.parametrize(("read", "expected"), [pytest.param(r, e, id=i) for i, r, e in READS])
def test_every_read_loads_once_first(read: Callable[[LazySession], Any], expected: Any) -> None:
    """Reads through any dict or session API see the stored data, loading exactly once."""
    session, loads = lazy()
    assert type(session) is LazySession and loads == []
    assert read(session) == expected
    assert read(session) == expected
    assert type(session) is Session and loads == [1]  # loaded: a plain Session now


def test_writes_load_first_and_record_a_patch() -> None:
    """A write before any read loads first, so the commit is a patch over the stored data."""
    session, loads = lazy()
    session["b"] = 2
    assert loads == [1]
    assert session.record is RECORD and session.presented
    assert session.changes() == ({"b": "2"}, ())


def test_without_a_blocking_loader_a_touch_raises() -> None:
    """With only an async loader (ASGI load='lazy') a sync touch raises instead of reading {}."""

    async def aloader() -> Session:
        return Session(RECORD)

    session = LazySession(aloader=aloader)
    with pytest.raises(RuntimeError, match="load_session"):
        session.get("a")
    assert "not loaded" in repr(session)


def test_loading_copies_every_slot_of_the_resumed_session() -> None:
    """A loaded lazy session has every attribute of the resumed one, slots added later included."""
    source = Session(RECORD)
    marks = {name: object() for name in Session.__slots__}
    for name, mark in marks.items():
        setattr(source, name, mark)
    session = LazySession(loader=lambda: source)
    assert len(session) == 2
    assert all(getattr(session, name) is mark for name, mark in marks.items())
    assert dict(session) == {"a": 1, "cart": [1]}
