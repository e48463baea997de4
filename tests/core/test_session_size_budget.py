"""The max_data_bytes budget as the app spends it: loaded data, replacements, deletions.

The session keeps a running total so an oversized session fails at the
assignment that overflowed it (RS-03).  Each test here fixes one way that total
could drift: a drift down lets a session grow past the cap until the store
refuses it after the response started; a drift up refuses writes that fit.
The totals are computed with :func:`sessionware.records.entry_size`, the one
measure every backend applies too.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionware import Session, SessionDataTooLarge
from sessionware.records import encode, entry_size

from .conftest import stored


def loaded(limit: int, **data: Any) -> Session:
    return Session(stored(**data), limit=limit)


def size(key: str, value: Any) -> int:
    return entry_size(key, encode(value))


def test_a_session_may_fill_its_limit_exactly_but_not_one_byte_more() -> None:
    """The cap is inclusive: a value of exactly max_data_bytes is stored, one more byte is not."""
    limit = size("a", "x" * 20)
    session = Session(limit=limit)
    session["a"] = "x" * 20
    assert session["a"] == "x" * 20
    other = Session(limit=limit)
    with pytest.raises(SessionDataTooLarge) as info:
        other["a"] = "x" * 21
    assert info.value.size == limit + 1


def test_loaded_data_counts_against_the_limit() -> None:
    """Data already stored is part of the total: adding to a nearly full session overflows."""
    stored, extra = "x" * 50, "y" * 40
    limit = size("a", stored) + size("b", extra)
    session = loaded(limit - 1, a=stored)
    with pytest.raises(SessionDataTooLarge) as info:
        session["b"] = extra
    assert info.value.size == limit
    assert "b" not in session
    fits = loaded(limit, a=stored)
    fits["b"] = extra  # exactly at the limit
    assert fits["b"] == extra


def test_replacing_a_loaded_value_counts_it_once() -> None:
    """Overwriting a stored key swaps its bytes; it does not count the old and new value."""
    limit = size("a", "x" * 50) + 10
    session = loaded(limit, a="x" * 50)
    session["a"] = "z" * 50
    session["a"] = "w" * 55
    assert session["a"] == "w" * 55
    with pytest.raises(SessionDataTooLarge):
        session["a"] = "v" * 61


def test_a_value_grown_in_place_of_a_smaller_one_counts_at_its_new_size() -> None:
    """Replacing a small value with a large one charges the large one, not the small one."""
    session = Session(limit=100)
    session["a"] = "x" * 10
    session["a"] = "x" * 40
    with pytest.raises(SessionDataTooLarge) as info:
        session["b"] = "y" * 54
    assert info.value.size == size("a", "x" * 40) + size("b", "y" * 54)


@pytest.mark.parametrize("remove", ["del", "pop", "popitem"])
def test_removing_a_loaded_key_frees_its_bytes(remove: str) -> None:
    """Deleting stored data gives its bytes back, so a same-sized new value fits."""
    limit = size("a", "x" * 50) + 5
    session = loaded(limit, a="x" * 50)
    if remove == "del":
        del session["a"]
    elif remove == "pop":
        session.pop("a")
    else:
        session.popitem()
    session["b"] = "y" * 50
    assert dict(session) == {"b": "y" * 50}


def test_clear_frees_the_loaded_bytes() -> None:
    """After clear() (say, logout then a flash message) the whole budget is available again."""
    limit = size("a", "x" * 50) + 5
    session = loaded(limit, a="x" * 50)
    session.clear()
    session["flash"] = "y" * 46
    assert dict(session) == {"flash": "y" * 46}


def test_a_deleted_then_reassigned_key_is_charged_again() -> None:
    """Putting back a deleted stored key costs its bytes anew (they were freed on delete)."""
    stored = "x" * 50
    limit = size("a", stored) + size("b", "y" * 40) - 1
    session = loaded(limit, a=stored)
    del session["a"]
    session["a"] = stored
    with pytest.raises(SessionDataTooLarge) as info:
        session["b"] = "y" * 40
    assert info.value.size == limit + 1
