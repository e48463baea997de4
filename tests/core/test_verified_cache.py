"""The engine remembers cookie values that verified, and only those (issue #16).

A returning session's signature and keyed hash are computed once; a forged
value is checked, and refused, every time it comes back.
"""

from __future__ import annotations

import pytest

from sessionware import RequestFacts, SessionConfig
from sessionware import core as engine_module
from sessionware.core import Engine
from sessionware.ids import IdCodec, new_id

from ..conftest import OLD_SECRET, SECRET


class CountingIds:
    """An :class:`IdCodec` that counts how often a signature is checked."""

    def __init__(self, inner: IdCodec) -> None:
        self.inner = inner
        self.unsigned = 0

    def unsign(self, value: str) -> tuple[str, int] | None:
        self.unsigned += 1
        return self.inner.unsign(value)

    def shaped(self, value: str) -> bool:
        return self.inner.shaped(value)

    def storage_key(self, session_id: str, key_index: int = 0) -> str:
        return self.inner.storage_key(session_id, key_index)


def counted(*secrets: str) -> tuple[Engine, CountingIds]:
    engine = Engine(SessionConfig(secret_keys=list(secrets)))
    spy = CountingIds(engine.ids)
    engine.ids = spy  # type: ignore[assignment]
    return engine, spy


def presenting(value: str) -> RequestFacts:
    return RequestFacts(cookie=f"theme=dark; __Host-session={value}", client="198.51.100.7")


def test_a_returning_cookie_is_verified_once_and_keeps_its_storage_key() -> None:
    """Two requests with one valid cookie: one signature check, the same storage key."""
    engine, spy = counted(SECRET)
    session_id = new_id()
    value = spy.inner.sign(session_id)
    first = engine.begin(presenting(value))
    again = engine.begin(presenting(value))
    assert spy.unsigned == 1
    assert first.key == again.key == spy.inner.storage_key(session_id)
    assert again.presented and again.events == ()


def test_a_forged_cookie_is_checked_and_refused_every_time() -> None:
    """A bad signature never enters the memory: each return is verified and reported again."""
    engine, spy = counted(SECRET)
    forged = new_id() + "." + "A" * 43
    kinds = [[e.kind for e in engine.begin(presenting(forged)).events] for _ in range(3)]
    assert kinds == [["bad_signature"]] * 3
    assert spy.unsigned == 3
    assert all(engine.begin(presenting(forged)).key is None for _ in range(2))


def test_a_cookie_signed_with_an_older_key_maps_to_that_keys_storage_key() -> None:
    """Key rotation: the remembered key is the one the verifying secret gives, every time."""
    old_engine = Engine(SessionConfig(secret_keys=[OLD_SECRET]))
    session_id = new_id()
    value = old_engine.ids.sign(session_id)
    engine, spy = counted(SECRET, OLD_SECRET)
    keys = {engine.begin(presenting(value)).key for _ in range(3)}
    assert keys == {spy.inner.storage_key(session_id, 1)}
    assert keys == {old_engine.ids.storage_key(session_id)}
    assert spy.unsigned == 1


def test_another_secret_never_shares_the_memory() -> None:
    """An engine with other secrets refuses a value another engine verified."""
    first, spy = counted(SECRET)
    value = spy.inner.sign(new_id())
    assert first.begin(presenting(value)).key is not None
    other, _ = counted(OLD_SECRET)
    assert other.begin(presenting(value)).key is None


def test_the_memory_is_bounded_and_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """At ``VERIFIED_CACHE`` values the memory empties: the oldest is verified again."""
    monkeypatch.setattr(engine_module, "VERIFIED_CACHE", 2)
    engine, spy = counted(SECRET)
    values = [spy.inner.sign(new_id()) for _ in range(3)]
    for value in values:
        engine.begin(presenting(value))
    assert spy.unsigned == 3
    engine.begin(presenting(values[2]))  # kept: the third came in after the reset
    assert spy.unsigned == 3
    engine.begin(presenting(values[0]))  # dropped by the reset
    assert spy.unsigned == 4
    engine.begin(presenting(values[1]))  # dropped too; verified, then remembered
    engine.begin(presenting(values[1]))
    assert spy.unsigned == 5
