"""Session: Starlette's dict contract, JSON-only values, size limits, intents and facts."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from sessionware import Session, SessionDataTooLarge
from sessionware.records import Record, encode


def stored(data: dict[str, Any] | None = None, **meta: Any) -> Record:
    fields: dict[str, Any] = {
        "key": "k",
        "handle": "h-public",
        "created_at": 1000.0,
        "last_active": 1100.0,
        "expires_at": 2900.0,
        "absolute_at": 44200.0,
    }
    fields.update(meta)
    return Record(data={k: encode(v) for k, v in (data or {}).items()}, **fields)


def loaded(**data: Any) -> Session:
    return Session(stored(data))


# -- Starlette 1.x contract ------------------------------------------------------------------


def test_fresh_session_is_neither_accessed_nor_modified() -> None:
    """Loading a session sets no flag (so the middleware can skip all work)."""
    session = loaded(a=1)
    assert session.accessed is False and session.modified is False


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s: s["a"], id="getitem"),
        pytest.param(lambda s: s.get("a"), id="get"),
        pytest.param(lambda s: s.get("missing", 0), id="get-missing"),
        pytest.param(lambda s: list(s.items()), id="items"),
        pytest.param(lambda s: list(s.values()), id="values"),
        pytest.param(lambda s: s.setdefault("a", 5), id="setdefault-present"),
        pytest.param(lambda s: s.pop("missing", None), id="pop-missing"),
        pytest.param(lambda s: s.mark_accessed(), id="mark_accessed"),
    ],
)
def test_reads_mark_accessed_but_not_modified(read: Callable[[Session], Any]) -> None:
    """Reads (and changes that change nothing) set accessed only."""
    session = loaded(a=1)
    read(session)
    assert session.accessed is True
    assert session.modified is False


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s.__setitem__("b", 2), id="setitem"),
        pytest.param(lambda s: s.__setitem__("a", 1), id="setitem-same-value"),
        pytest.param(lambda s: s.__delitem__("a"), id="delitem"),
        pytest.param(lambda s: s.pop("a"), id="pop-present"),
        pytest.param(lambda s: s.popitem(), id="popitem"),
        pytest.param(lambda s: s.setdefault("b", 2), id="setdefault-missing"),
        pytest.param(lambda s: s.update(b=2), id="update"),
        pytest.param(lambda s: s.__ior__({"b": 2}), id="ior"),
        pytest.param(lambda s: s.clear(), id="clear"),
        pytest.param(lambda s: s.mark_modified(), id="mark_modified"),
    ],
)
def test_writes_mark_modified_and_accessed(write: Callable[[Session], Any]) -> None:
    """Every mutating call sets both flags, as Starlette's Session does."""
    session = loaded(a=1)
    write(session)
    assert session.modified is True and session.accessed is True


def test_pop_and_setdefault_return_like_a_dict() -> None:
    """pop/setdefault keep dict semantics, including KeyError for a missing key."""
    session = loaded(a=1)
    assert session.setdefault("a", 9) == 1
    assert session.setdefault("b", [1]) == [1]
    assert session.pop("a") == 1
    assert session.pop("zzz", "dflt") == "dflt"
    with pytest.raises(KeyError):
        session.pop("zzz")
    assert dict(session) == {"b": [1]}


# -- changes(): what the engine will write -----------------------------------------------------


def test_changes_list_set_and_deleted_keys_as_json() -> None:
    """changes() reports set keys as JSON text and deleted keys by name."""
    session = loaded(a=1, b=2, c=3)
    session["a"] = {"x": [1, 2]}
    del session["b"]
    session.pop("c")
    session["new"] = "ü"
    changed, deleted = session.changes()
    assert changed == {"a": '{"x":[1,2]}', "new": '"ü"'}
    assert sorted(deleted) == ["b", "c"]


def test_setting_then_deleting_a_new_key_is_no_change() -> None:
    """A key added and removed in one request leaves nothing to write."""
    session = loaded(a=1)
    session["tmp"] = 1
    del session["tmp"]
    assert session.changes() == ({}, ())


def test_nested_mutation_of_a_loaded_value_is_detected() -> None:
    """Appending to a loaded list shows up in changes() although no setter ran."""
    session = loaded(cart=[1], prefs={"theme": "dark"})
    session["cart"].append(2)
    session["prefs"]["lang"] = "fr"
    assert session.modified is False
    changed, deleted = session.changes()
    assert changed == {"cart": "[1,2]", "prefs": '{"theme":"dark","lang":"fr"}'}
    assert deleted == ()


def test_mutation_after_assignment_is_detected() -> None:
    """A list mutated after it was assigned is written in its final form."""
    session = loaded()
    cart: list[int] = []
    session["cart"] = cart
    cart.append(7)
    assert session.changes()[0] == {"cart": "[7]"}


def test_unchanged_mutable_values_are_not_reported() -> None:
    """Reading nested values without changing them produces no change."""
    session = loaded(cart=[1, {"q": 2}])
    assert session["cart"][1]["q"] == 2
    assert session.changes() == ({}, ())


# -- values and limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(object(), id="object"),
        pytest.param({1, 2}, id="set"),
        pytest.param(b"bytes", id="bytes"),
        pytest.param({(1, 2): "tuple-key"}, id="tuple-key"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
    ],
)
def test_non_json_values_raise_type_error_at_assignment(value: Any) -> None:
    """A value JSON cannot hold fails on the line that set it, and is not stored."""
    session = loaded()
    with pytest.raises(TypeError):
        session["bad"] = value
    assert "bad" not in session
    assert session.changes() == ({}, ())


def test_non_str_keys_are_refused() -> None:
    """Top-level keys must be strings, as in JSON."""
    with pytest.raises(TypeError):
        loaded()[1] = "x"  # type: ignore[index]


def test_oversized_assignment_raises_at_that_line_with_sizes() -> None:
    """Going past max_data_bytes raises SessionDataTooLarge naming both sizes (RS-03)."""
    session = Session(limit=100)
    session["small"] = "x" * 40
    with pytest.raises(SessionDataTooLarge) as info:
        session["big"] = "y" * 80
    message = str(info.value)
    assert str(info.value.size) in message and "100" in message and "'big'" in message
    assert info.value.size > info.value.limit == 100
    assert "big" not in session
    session["ok"] = "z" * 20  # the failed assignment did not use up the budget


def test_size_limit_counts_utf8_bytes() -> None:
    """Non-ASCII text counts by its encoded bytes, so the limit really is in bytes."""
    session = Session(limit=100)
    with pytest.raises(SessionDataTooLarge):
        session["text"] = "é" * 60  # 60 characters, 120 bytes


def test_replacing_a_value_frees_its_size() -> None:
    """Overwriting and deleting keys give their bytes back to the budget."""
    session = Session(limit=100)
    for _ in range(10):
        session["a"] = "x" * 80
    del session["a"]
    session["b"] = "y" * 80
    assert session["b"] == "y" * 80


def test_sessions_are_not_picklable() -> None:
    """Pickle is never a storage format (stored data is JSON only)."""
    with pytest.raises(TypeError):
        pickle.dumps(loaded(a=1))


# -- read-only sessions (websocket) ------------------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s.__setitem__("b", 2), id="setitem"),
        pytest.param(lambda s: s.__delitem__("a"), id="delitem"),
        pytest.param(lambda s: s.pop("a"), id="pop"),
        pytest.param(lambda s: s.clear(), id="clear"),
        pytest.param(lambda s: s.login("u1"), id="login"),
        pytest.param(lambda s: s.logout(), id="logout"),
        pytest.param(lambda s: s.regenerate(), id="regenerate"),
    ],
)
def test_read_only_session_refuses_writes(write: Callable[[Session], Any]) -> None:
    """A websocket's session can be read but every write raises and changes nothing."""
    session = Session(stored({"a": 1}), read_only=True)
    with pytest.raises(TypeError, match="read-only"):
        write(session)
    assert session["a"] == 1 and dict(session) == {"a": 1}


# -- intents and read-only facts --------------------------------------------------------------


def test_facts_of_a_stored_session() -> None:
    """The read-only properties reflect the stored record."""
    session = Session(stored({}, user_id="u7", auth_time=1050.0, remember=True))
    assert session.is_new is False
    assert session.user_id == "u7"
    assert session.created_at == 1000.0 and session.last_active == 1100.0
    assert session.auth_time == 1050.0
    assert session.remember is True
    assert session.handle == "h-public"


def test_facts_of_a_new_session() -> None:
    """A session with no stored record is new, anonymous and has no handle yet."""
    session = Session()
    assert session.is_new is True
    assert session.user_id is None and session.handle is None
    assert session.created_at is None and session.last_active is None
    assert session.auth_time is None and session.remember is False


def test_login_sets_user_and_remember_at_once() -> None:
    """After login() the session reports the new user and remember flag in the same request."""
    session = loaded(cart=[1])
    session.login(42, remember=True)
    assert session.user_id == "42" and session.remember is True
    assert session.modified and session["cart"] == [1]


def test_logout_empties_and_forgets_the_user() -> None:
    """logout() clears data and the user."""
    session = Session(stored({"a": 1}, user_id="u1"))
    session.logout()
    assert dict(session) == {} and session.user_id is None


@pytest.mark.parametrize(
    "prop", ["user_id", "is_new", "created_at", "last_active", "auth_time", "remember", "handle"]
)
def test_facts_are_read_only(prop: str) -> None:
    """The facts cannot be assigned by app code."""
    with pytest.raises(AttributeError):
        setattr(loaded(), prop, None)


def test_repr_shows_the_handle_and_never_a_secret() -> None:
    """repr() names data, handle and user so debugging output has no ID to leak."""
    text = repr(Session(stored({"a": 1}, user_id="u1")))
    assert "h-public" in text and "'a': 1" in text and "'k'" not in text
