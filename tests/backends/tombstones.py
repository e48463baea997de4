"""Tombstone conformance: the optional capability, the same on every backend that has it.

Mix :class:`TombstoneConformance` into a backend's conformance class (next to
:class:`~tests.backends.conformance.BackendConformance`); each test runs on
both faces.
"""

from __future__ import annotations

from typing import Any

from sessionware.records import Create, Delete, Tombstone, companion, ended

from .conformance import AsyncFace, SyncFace, make_record

WEEK = 7 * 24 * 3600.0


def load_ending(face: SyncFace, key: str, now: float) -> Tombstone | None:
    if isinstance(face, AsyncFace):
        return face.run(face.b.aload_ending(key, now))  # type: ignore[no-any-return]
    return face.b.load_ending(key, now)  # type: ignore[no-any-return]


def erase_endings(face: SyncFace, user_id: str) -> int:
    if isinstance(face, AsyncFace):
        return face.run(face.b.aerase_endings(user_id))  # type: ignore[no-any-return]
    return face.b.erase_endings(user_id)  # type: ignore[no-any-return]


class TombstoneConformance:
    """For backends whose ``keeps_tombstones`` is true."""

    def test_delete_leaves_its_tombstone_and_no_session(
        self, face: SyncFace, now: float, backend: Any
    ) -> None:
        """A delete carrying a tombstone stores it in the same apply; it is never a session."""
        assert backend.keeps_tombstones is True
        rec = make_record(now, user="tina")
        face.apply([Create(rec, keep_for=WEEK)], now)
        tomb = ended(rec, "revoked", now + 1, WEEK, by="admin")
        assert face.apply([Delete(rec.key, tomb)], now + 1).ok
        assert face.load(rec.key, now + 2) is None
        assert face.load_handle(rec.handle, now + 2) is None
        assert face.by_user("tina", now + 2) == []
        got = load_ending(face, rec.key, now + 2)
        assert got == tomb
        assert got is not None and got.resolved(now + 2) == ("revoked", now + 1)

    def test_rotation_tombstone_names_the_successor_by_key_hash(
        self, face: SyncFace, now: float
    ) -> None:
        """The old ID of a rotation reads as "rotated", pointing at its successor's storage key."""
        old = make_record(now, user="rhea")
        face.apply([Create(old, keep_for=WEEK)], now)
        new = make_record(now, user="rhea", handle=old.handle)
        tomb = ended(old, "rotated", now, WEEK, successor=new.key, renewal=True)
        assert face.apply([Create(new, replaces=old.key, tombstone=tomb, keep_for=WEEK)], now).ok
        got = load_ending(face, old.key, now + 1)
        assert got is not None and got.reason == "rotated"
        assert got.successor == new.key and got.renewal is True
        assert [r.key for r in face.by_user("rhea", now + 1)] == [new.key]

    def test_expiry_companion_tells_idle_from_absolute(self, face: SyncFace, now: float) -> None:
        """A signed-in record that ran out leaves the companion written at its creation."""
        rec = make_record(now, user="ida", ttl=100)  # idle deadline now+100, absolute now+200
        face.apply([Create(rec, keep_for=WEEK)], now)
        assert load_ending(face, rec.key, now) == companion(rec, WEEK)
        assert face.load(rec.key, now + 150) is None
        got = load_ending(face, rec.key, now + 150)
        assert got is not None and got.resolved(now + 150) == ("idle", None)
        got = load_ending(face, rec.key, now + 250)
        assert got is not None and got.resolved(now + 250) == ("absolute", rec.absolute_at)

    def test_anonymous_sessions_get_no_tombstone(self, face: SyncFace, now: float) -> None:
        """Only signed-in sessions leave anything behind: a flood of fresh ones leaves nothing."""
        rec = make_record(now)
        face.apply([Create(rec, keep_for=WEEK)], now)
        face.apply([Delete(rec.key)], now + 1)
        assert load_ending(face, rec.key, now + 1) is None

    def test_delete_without_a_reason_drops_the_companion(self, face: SyncFace, now: float) -> None:
        """A delete that records no reason leaves no stale "expiry" claim behind."""
        rec = make_record(now, user="una")
        face.apply([Create(rec, keep_for=WEEK)], now)
        face.apply([Delete(rec.key)], now + 1)
        assert load_ending(face, rec.key, now + 1) is None

    def test_max_per_user_eviction_leaves_evicted_tombstones(
        self, face: SyncFace, now: float
    ) -> None:
        """Sessions evicted by max_per_user read as "evicted", by the limit."""
        first = make_record(now, user="eve")
        face.apply([Create(first, keep_for=WEEK)], now)
        second = make_record(now + 1, user="eve")
        result = face.apply([Create(second, max_per_user=1, keep_for=WEEK)], now + 1)
        assert result.evicted == (first.handle,)
        got = load_ending(face, first.key, now + 2)
        assert got is not None and got.reason == "evicted" and got.by == "limit"
        assert got.handle == first.handle and got.user_id == "eve"

    def test_tombstones_expire_by_themselves(self, face: SyncFace, now: float) -> None:
        """A tombstone is gone at its ``until``; sessions around it are unaffected."""
        rec = make_record(now, user="tom")
        other = make_record(now, user="tom")
        face.apply([Create(rec), Create(other)], now)
        tomb = ended(rec, "logout", now, 30.0)
        face.apply([Delete(rec.key, tomb)], now)
        assert load_ending(face, rec.key, now + 29) is not None
        assert load_ending(face, rec.key, now + 31) is None
        assert [r.key for r in face.by_user("tom", now + 1)] == [other.key]

    def test_erase_endings_forgets_one_users_tombstones(self, face: SyncFace, now: float) -> None:
        """Account deletion: a user's tombstones go, other users' stay."""
        mine = [make_record(now, user="gone") for _ in range(3)]
        theirs = make_record(now, user="stays")
        face.apply([Create(r, keep_for=WEEK) for r in (*mine, theirs)], now)
        face.apply([Delete(r.key, ended(r, "logout", now, WEEK)) for r in (*mine, theirs)], now)
        assert erase_endings(face, "gone") >= 3
        assert all(load_ending(face, r.key, now + 1) is None for r in mine)
        assert load_ending(face, theirs.key, now + 1) is not None
