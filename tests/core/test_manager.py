"""SessionManager: list and revoke a user's sessions through the backend protocol only."""

from __future__ import annotations

from collections.abc import Callable

from sessionware import SessionManager
from sessionware.backends import MemoryBackend
from sessionware.testing import FakeClock

from .conftest import Browser, login, read


def three_sessions(make_browser: Callable[..., Browser], clock: FakeClock) -> list[Browser]:
    browsers = []
    for user in ("alice", "alice", "bob"):
        browser = make_browser()
        browser.request(login(user))
        browsers.append(browser)
        clock.advance(1)
    return browsers


def test_list_sessions_shows_safe_facts_oldest_first(
    make_browser: Callable[..., Browser], clock: FakeClock, backend: MemoryBackend
) -> None:
    """Listing gives handle, times, address and agent summary, never the ID or storage key."""
    browsers = three_sessions(make_browser, clock)
    listed = SessionManager(backend, clock=clock).list_sessions("alice")
    assert (
        [info.handle for info in listed]
        == [
            b.request(read()).session.handle  # type: ignore[union-attr]
            for b in browsers[:2]
        ]
    )
    first = listed[0]
    assert first.user_id == "alice" and first.ip == "203.0.113.5"
    assert first.agent == "Firefox" and first.kind == "cookie"
    assert first.created_at < listed[1].created_at
    text = repr(listed)
    for browser in browsers:
        assert browser.cookie is not None and browser.cookie.split(".")[0] not in text


def test_revoke_ends_one_session_at_once(
    make_browser: Callable[..., Browser], clock: FakeClock, backend: MemoryBackend
) -> None:
    """revoke(handle) ends that session at once; revoking it again returns False."""
    first, second, _ = three_sessions(make_browser, clock)
    manager = SessionManager(backend, clock=clock)
    handle = first.request(read()).session.handle  # type: ignore[union-attr]
    assert manager.revoke(handle) is True  # type: ignore[arg-type]
    assert first.request(read()).session.is_new  # type: ignore[union-attr]
    assert not second.request(read()).session.is_new  # type: ignore[union-attr]
    assert manager.revoke(handle) is False  # type: ignore[arg-type]
    assert manager.revoke("no-such-handle") is False


def test_revoke_user_keeps_the_current_session(
    make_browser: Callable[..., Browser], clock: FakeClock, backend: MemoryBackend
) -> None:
    """revoke_user(user, keep=handle) is "log out everywhere else" (TM-03)."""
    first, second, bob = three_sessions(make_browser, clock)
    manager = SessionManager(backend, clock=clock)
    keep = second.request(read()).session.handle  # type: ignore[union-attr]
    assert manager.revoke_user("alice", keep=keep) == 1
    assert first.request(read()).session.is_new  # type: ignore[union-attr]
    assert second.request(read()).session.user_id == "alice"  # type: ignore[union-attr]
    assert bob.request(read()).session.user_id == "bob"  # type: ignore[union-attr]
    assert manager.revoke_user("alice") == 1
    assert manager.revoke_user("alice") == 0


async def test_async_twins_behave_the_same(
    make_browser: Callable[..., Browser], clock: FakeClock, backend: MemoryBackend
) -> None:
    """alist_sessions, arevoke and arevoke_user mirror the sync calls."""
    first, second, _ = three_sessions(make_browser, clock)
    manager = SessionManager(backend, clock=clock)
    listed = await manager.alist_sessions("alice")
    assert len(listed) == 2
    assert await manager.arevoke(listed[0].handle) is True
    assert await manager.arevoke(listed[0].handle) is False
    assert await manager.arevoke_user("alice", keep="nothing") == 1
    assert await manager.alist_sessions("alice") == []
    assert first.request(read()).session.is_new  # type: ignore[union-attr]
    assert second.request(read()).session.is_new  # type: ignore[union-attr]
