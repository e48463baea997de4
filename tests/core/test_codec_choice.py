"""``codec`` picks the session class the engine hands to the app.

``codec="tagged"`` (what the Flask extension uses) must give back a tuple as
a tuple and bytes as bytes after a round trip through the store, as Flask's
own cookie sessions do; the default JSON codec keeps JSON's types and refuses
values JSON cannot hold, at the line that sets them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from .conftest import Browser, write

VALUES = {"pair": (1, 2), "blob": b"\x00\xff", "id": uuid.UUID(int=7)}


def test_the_tagged_codec_round_trips_flask_types(make_browser: Callable[..., Browser]) -> None:
    """Tuples, bytes and UUIDs come back with their own types."""
    browser = make_browser(codec="tagged")
    browser.request(write(**VALUES))
    session = browser.request(lambda s: None).session
    assert session is not None
    assert dict(session) == VALUES
    assert type(session["pair"]) is tuple


def test_the_default_codec_is_plain_json(make_browser: Callable[..., Browser]) -> None:
    """A tuple reads back as a list; bytes are refused when set."""
    browser = make_browser()
    browser.request(write(pair=(1, 2)))
    session = browser.request(lambda s: None).session
    assert session is not None and session["pair"] == [1, 2]
    with pytest.raises(TypeError):
        browser.request(write(blob=b"\x00"))
