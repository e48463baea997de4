"""The edges of the reuse grace window (TK-09).

"Within ``reuse_grace`` seconds of *its* rotation": the window opens when
the token is rotated out (not at login), includes its last second, and
works for the smallest grace a deployment can set.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionware.errors import TokenReused
from sessionware.events import Event
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService

Make = Callable[..., TokenService]


def test_grace_is_measured_from_the_rotation_not_from_login(
    make_service: Make, clock: FakeClock, events: list[Event]
) -> None:
    """A token rotated out long after login still gets its full window."""
    service = make_service(reuse_grace=30)
    first = service.issue("alice")
    clock.advance(600)  # the session is ten minutes old when it first refreshes
    service.refresh(first.refresh_token)
    clock.advance(10)
    again = service.refresh(first.refresh_token)  # the lost-response retry
    assert again.handle == first.handle
    assert events[-1].kind == "refreshed" and events[-1].detail["grace"] is True


def test_grace_includes_its_last_second(make_service: Make, clock: FakeClock) -> None:
    """Exactly reuse_grace seconds after the rotation the previous token still re-rotates."""
    clock.now = 1_900_000_000.0  # a whole number, so the difference is exactly 30
    service = make_service(reuse_grace=30)
    first = service.issue("alice")
    service.refresh(first.refresh_token)
    clock.advance(30)
    assert service.refresh(first.refresh_token).handle == first.handle
    clock.advance(0.5)
    with pytest.raises(TokenReused):
        service.refresh(first.refresh_token)


def test_a_one_second_grace_is_honoured(make_service: Make, clock: FakeClock) -> None:
    """reuse_grace=1, the smallest useful setting, lets a retry half a second later through."""
    service = make_service(reuse_grace=1)
    first = service.issue("alice")
    service.refresh(first.refresh_token)
    clock.advance(0.5)
    assert service.refresh(first.refresh_token).handle == first.handle
