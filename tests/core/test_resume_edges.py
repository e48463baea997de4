"""What ``Engine.resume`` decides about a record the store still returned, exactly.

A store may hand back a record past one of its deadlines (it sweeps on its own
schedule) or one whose binding no longer matches; the engine then ends the
session itself.  These tests pin every field of that decision: the reason,
the moment, the tombstone, the events, and that the session handed to the
app keeps the request's size limit and read-only state.
"""

from __future__ import annotations

import pytest

from sessionware import RequestFacts, SessionConfig, SessionDataTooLarge
from sessionware.core import Begin, Engine
from sessionware.endings import Ending
from sessionware.fingerprint import fingerprint
from sessionware.records import ApplyResult, Record, Tombstone

from ..conftest import SECRET

NOW = 1_800_000_000.0
CLIENT = "198.51.100.7"
AGENT = "Mozilla/5.0 (X11; Linux x86_64)"


def engine(**fields: object) -> Engine:
    config = SessionConfig(secret_keys=[SECRET], max_data_bytes=100, **fields)  # type: ignore[arg-type]
    return Engine(config, clock=lambda: NOW)


def record(**fields: object) -> Record:
    """A signed-in record, alive on every deadline unless a test moves one."""
    values: dict[str, object] = {
        "key": "k" * 64,
        "handle": "h-1",
        "created_at": NOW - 100,
        "last_active": NOW - 10,
        "expires_at": NOW + 1000,
        "absolute_at": NOW + 5000,
        "user_id": "alice",
        "data": {"n": "1"},
    }
    values.update(fields)
    return Record(**values)  # type: ignore[arg-type]


FACTS = RequestFacts(cookie="x", client=CLIENT, user_agent=AGENT)
BEGIN = Begin(key="k" * 64, presented=True)


def assert_keeps_limit_and_read_only(session: object, read_only: bool) -> None:
    """Writable within the limit and refused past it; or refused outright when read-only."""
    if read_only:
        with pytest.raises(TypeError):
            session["a"] = 1  # type: ignore[index]
        return
    session["a"] = 1  # type: ignore[index]
    with pytest.raises(SessionDataTooLarge):
        session["big"] = "x" * 200  # type: ignore[index]


@pytest.mark.parametrize("read_only", [False, True])
def test_an_idle_record_ends_at_its_idle_deadline(read_only: bool) -> None:
    """Idle deadline reached, store's expiry later: ``idle`` at the idle deadline, buried."""
    eng = engine()
    idle_end = NOW - 1
    stale = record(last_active=idle_end - eng.config.idle_for(False))
    session = eng.resume(BEGIN, stale, FACTS, read_only=read_only)
    assert session.record is None and session.storage_key == stale.key and session.presented
    assert session.ending is not None
    assert (session.ending.reason, session.ending.at) == ("idle", idle_end)
    tomb = session.ending.bury
    assert tomb is not None and (tomb.reason, tomb.handle, tomb.user_id) == ("idle", "h-1", "alice")
    assert tomb.ended_at == NOW
    (event, *_) = session.pending_events
    assert (event.kind, event.client, event.handle, event.user_id) == (
        "ended",
        CLIENT,
        "h-1",
        "alice",
    )
    assert event.detail["reason"] == "idle" and event.detail["ended_at"] == idle_end
    assert session.read_only is read_only
    assert_keeps_limit_and_read_only(session, read_only)


def test_a_record_at_its_store_expiry_ends_then() -> None:
    """``expires_at`` reached (the idle deadline later): ended, dated at ``expires_at``."""
    session = engine().resume(BEGIN, record(expires_at=NOW), FACTS)
    assert session.ending is not None
    assert (session.ending.reason, session.ending.at) == ("idle", NOW)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_record_at_its_absolute_deadline_ends_as_absolute(read_only: bool) -> None:
    """Exactly at ``absolute_at`` (everything else alive): ``absolute``, dated then (EX-02)."""
    session = engine().resume(BEGIN, record(absolute_at=NOW), FACTS, read_only=read_only)
    assert session.ending is not None
    assert (session.ending.reason, session.ending.at) == ("absolute", NOW)
    tomb = session.ending.bury
    assert tomb is not None and tomb.reason == "absolute"
    assert session.pending_events[0].detail["reason"] == "absolute"
    assert session.read_only is read_only
    assert_keeps_limit_and_read_only(session, read_only)


def test_a_record_just_before_every_deadline_is_served() -> None:
    """One millisecond before each deadline the record is the session."""
    live = record(absolute_at=NOW + 0.001, expires_at=NOW + 0.001)
    session = engine().resume(BEGIN, live, FACTS)
    assert session.record is live and session.ending is None and session == {"n": 1}


@pytest.mark.parametrize("read_only", [False, True])
def test_a_broken_binding_under_revoke_ends_the_session(read_only: bool) -> None:
    """``binding="revoke"``: ``binding`` now, buried, mismatch reported (AN-03)."""
    eng = engine(binding="revoke")
    bound = record(info={"fp": "0000"})
    session = eng.resume(BEGIN, bound, FACTS, read_only=read_only)
    assert session.record is None and session.storage_key == bound.key and session.presented
    assert session.ending is not None
    assert (session.ending.reason, session.ending.at) == ("binding", NOW)
    tomb = session.ending.bury
    assert tomb is not None and (tomb.reason, tomb.ended_at) == ("binding", NOW)
    assert [e.kind for e in session.pending_events] == ["binding_mismatch"]
    assert session.read_only is read_only
    assert_keeps_limit_and_read_only(session, read_only)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_broken_binding_under_log_keeps_the_session(read_only: bool) -> None:
    """``binding="log"``: the session is served as stored, with the mismatch reported."""
    bound = record(info={"fp": "0000"})
    session = engine(binding="log").resume(BEGIN, bound, FACTS, read_only=read_only)
    assert session.record is bound and session.ending is None and session.presented
    assert dict(session) == {"n": 1}
    assert [e.kind for e in session.pending_events] == ["binding_mismatch"]
    assert session.read_only is read_only
    assert_keeps_limit_and_read_only(session, read_only)


def test_a_matching_binding_is_served_without_an_event() -> None:
    """The same client and agent as at login: no event, the record is the session."""
    bound = record(info={"fp": fingerprint(CLIENT, AGENT)})
    session = engine(binding="revoke").resume(BEGIN, bound, FACTS)
    assert session.record is bound and session.pending_events == []


def test_evictions_are_reported_with_the_client_and_each_handle() -> None:
    """``finish``: one ``evicted`` event per handle the store evicted, naming the client."""
    eng = engine()
    commit = eng.commit(eng.resume(Begin(), None, FACTS), 200, FACTS)
    _, events = eng.finish(commit, ApplyResult(True, ("h-old", "h-older")), FACTS)
    assert [(e.kind, e.client, e.handle) for e in events] == [
        ("evicted", CLIENT, "h-old"),
        ("evicted", CLIENT, "h-older"),
    ]


def renewed_away(successor: Record, age: float) -> Ending:
    """The tombstone of a periodic renewal ``age`` seconds ago, and its live successor."""
    tomb = Tombstone(
        "k" * 64, "rotated", "h-0", "alice", NOW - age, NOW + 100, successor="s" * 64, renewal=True
    )
    return Ending(tomb, successor)


@pytest.mark.parametrize("read_only", [False, True])
def test_inside_the_grace_window_the_old_id_serves_its_successor(read_only: bool) -> None:
    """FX-07: a renewal's old ID, just after rotating: the successor, presented, same limits."""
    successor = record(key="s" * 64, handle="h-2")
    ending = renewed_away(successor, age=1)
    session = engine().resume(BEGIN, None, FACTS, read_only=read_only, ending=ending)
    assert session.record is successor and session.presented is True
    assert session.ending is None and dict(session) == {"n": 1}
    assert session.read_only is read_only
    assert_keeps_limit_and_read_only(session, read_only)


def test_after_the_grace_window_the_old_id_is_a_stale_reuse() -> None:
    """Past the window the old ID is dead: ``rotated``, and a ``stale_reuse`` event."""
    successor = record(key="s" * 64, handle="h-2")
    session = engine().resume(BEGIN, None, FACTS, ending=renewed_away(successor, age=60))
    assert session.record is None and session.ending is not None
    assert session.ending.reason == "rotated"
    assert "stale_reuse" in [e.kind for e in session.pending_events]


def test_without_tombstones_a_logged_out_id_reads_as_a_logout() -> None:
    """Stores without tombstones: the engine's own memory of recent logouts names the end."""
    eng = engine()
    eng.planner.remember_ended("k" * 64)
    session = eng.resume(BEGIN, None, FACTS)
    assert session.ending is not None and session.ending.reason == "logout"
    (event, *_) = session.pending_events
    assert (event.kind, event.client) == ("ended", CLIENT)
    assert event.detail["reason"] == "logout"
