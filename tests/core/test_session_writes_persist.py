"""Every way the app changes a session reaches the store, and nothing else does.

The dict methods record deletions and assignments for the commit; a lost
record means deleted data comes back (a dropped "is_admin" flag, say) or a
write silently vanishes.  These go through the engine and read the stored
result back on the next request.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionware import Session

from .conftest import Browser, read, stored, write


def after(browser: Browser) -> dict[str, Any]:
    session = browser.request(read()).session
    assert session is not None and not session.is_new
    return dict(session)


def test_popitem_deletes_the_key_from_the_store(browser: Browser) -> None:
    """popitem() removes the stored key, like del does."""
    browser.request(write(a=1, role="admin"))
    browser.request(lambda s: s.popitem())
    assert after(browser) == {"a": 1}


def test_a_key_deleted_and_set_again_keeps_the_new_value(browser: Browser) -> None:
    """del then assign in one request stores the new value; the key is not deleted."""
    browser.request(write(a=1, b=2))

    def app(session: Session) -> None:
        del session["a"]
        session["a"] = 3

    browser.request(app)
    assert after(browser) == {"a": 3, "b": 2}


def test_a_key_deleted_and_set_again_is_a_set_not_a_delete() -> None:
    """changes() hands the engine one instruction per key: here a set."""
    session = Session(stored(a=1))
    del session["a"]
    session["a"] = 3
    assert session.changes() == ({"a": "3"}, ())


def test_a_reassigned_list_mutated_back_to_its_stored_form_is_written(browser: Browser) -> None:
    """session["cart"] = []; then cart.append(1): the final [1] is stored, not the interim []."""
    browser.request(write(cart=[1], n=0))

    def app(session: Session) -> None:
        cart: list[int] = []
        session["cart"] = cart
        cart.append(1)

    browser.request(app)
    assert after(browser) == {"cart": [1], "n": 0}


def test_update_with_keywords_stores_them(browser: Browser) -> None:
    """update(mapping, **kwargs) sets both, as dict.update does."""
    browser.request(lambda s: s.update({"a": 1}, b=2))
    assert after(browser) == {"a": 1, "b": 2}


def test_pop_of_a_missing_key_raises_key_error_naming_it() -> None:
    """pop() without a default raises KeyError(key), as a dict does (apps log or catch it)."""
    session = Session(stored(a=1))
    with pytest.raises(KeyError) as info:
        session.pop("missing")
    assert info.value.args == ("missing",)


# -- mutated(): the engine's "was anything changed in place?" question ------------------------


def test_mutated_is_false_for_values_only_read() -> None:
    """Reading stored lists and dicts is no mutation, so the engine's no-write path applies."""
    session = Session(stored(cart=[1, {"q": 2}], prefs={"a": "b"}, n=1))
    assert session["cart"][1]["q"] == 2 and session["prefs"] == {"a": "b"}
    assert session.mutated() is False


def test_mutated_is_false_for_an_assignment() -> None:
    """An assigned value is a recorded write, not an in-place change of loaded data."""
    session = Session(stored(cart=[1]))
    session["cart"] = [2]
    session["new"] = {"x": 1}
    assert session.mutated() is False


def test_mutated_is_true_after_an_in_place_change() -> None:
    """Appending to a loaded list is what mutated() reports."""
    session = Session(stored(cart=[1], n=1))
    session["cart"].append(2)
    assert session.mutated() is True


def test_a_session_built_without_a_request_presented_no_cookie() -> None:
    """Session() (as a view's unit test builds one) carries no cookie and a working store."""
    for session in (Session(), Session(stored(a=1))):
        assert not session.presented and not session.store_unavailable
