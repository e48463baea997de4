"""What a refused refresh token says, and which values are refused unread (TK-08, TK-11).

The refusal ``reason`` is part of the API: the refresh endpoint sends it as
``error_description`` and ``token_invalid`` events carry it for dashboards,
so these tests pin the exact text, not just a substring.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from sessionware.errors import InvalidToken
from sessionware.events import Event
from sessionware.records import Create, Record
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService
from sessionware.tokens.refresh import MAX_LENGTH, parse


def _body() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(48)).decode()


@pytest.mark.parametrize("value", [None, 12345, b"abc.def", ["a.b"]])
def test_a_non_string_refresh_token_is_malformed_not_a_crash(
    service: TokenService, events: list[Event], value: object
) -> None:
    """A caller passing a non-string (a framework's None, raw bytes) gets InvalidToken."""
    with pytest.raises(InvalidToken) as caught:
        service.refresh(value)  # type: ignore[arg-type]
    assert caught.value.reason == "malformed refresh token"
    assert events[-1].kind == "token_invalid"
    assert events[-1].detail["reason"] == "malformed refresh token"


def test_parse_refuses_non_strings() -> None:
    """``parse`` answers None for anything that is not text, whatever its length."""
    assert parse(None) is None
    assert parse(7) is None
    assert parse(b"x" * 10) is None


def test_a_token_of_exactly_the_longest_shape_is_parsed() -> None:
    """A 64-character handle plus the 64-character body is MAX_LENGTH and still a token."""
    handle = "h" * 64
    body = _body()
    text = f"{handle}.{body}"
    assert len(text) == MAX_LENGTH
    parsed = parse(text)
    assert parsed is not None
    assert parsed.handle == handle and parsed.text == text
    assert parsed.family == base64.urlsafe_b64decode(body)[:16]
    assert parse(text + "A") is None


def test_forged_token_for_a_real_handle_gets_the_exact_unknown_reason(
    service: TokenService, events: list[Event]
) -> None:
    """A wrong-family token is "unknown refresh token", in the error and in the event."""
    pair = service.issue("alice")
    with pytest.raises(InvalidToken) as caught:
        service.refresh(f"{pair.handle}.{_body()}")
    assert caught.value.reason == "unknown refresh token"
    assert str(caught.value) == "unknown refresh token"
    refused = events[-1]
    assert refused.kind == "token_invalid"
    assert refused.detail["reason"] == "unknown refresh token"
    assert refused.handle is None  # the token was not ours: name no session


def test_token_aimed_at_a_cookie_session_gets_the_exact_unknown_reason(
    service: TokenService, clock: FakeClock, events: list[Event]
) -> None:
    """A cookie session's handle with a refresh body is "unknown refresh token" too."""
    handle = f"cookie{secrets.token_hex(8)}"
    now = clock()
    cookie = Record(secrets.token_hex(32), handle, now, now, now + 60, now + 60, "bob")
    service.backend.apply([Create(cookie)], now)
    with pytest.raises(InvalidToken) as caught:
        service.refresh(f"{handle}.{_body()}")
    assert caught.value.reason == "unknown refresh token"
    assert events[-1].kind == "token_invalid"
    assert events[-1].detail["reason"] == "unknown refresh token"
    assert service.backend.load_handle(handle, clock()) is not None
