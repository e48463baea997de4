"""Conformance: rotations that carry the session's data over (issue #18).

Mixed into :class:`~tests.backends.conformance.BackendConformance`, so every
store and every face runs it.  The scene each test plays: a request loaded
the session, another request committed a write meanwhile, and the first one
now rotates the ID (regenerate, renewal) with its own changes only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sessionware.records import Create, Delete, Patch, Record, encode, ended

#: The default ``max_data_bytes``, as in the conformance suite.
CAP = 64 * 1024


def make_record(now: float, *, user: str | None = None, ttl: float = 600, **kw: Any) -> Record:
    """A record of its own key and handle, live for ``ttl`` seconds from ``now``."""
    tag = uuid.uuid4().hex[:12]
    fields: dict[str, Any] = {"key": f"c{tag}", "handle": f"ch{tag}", "user_id": user}
    fields.update(created_at=now, last_active=now, expires_at=now + ttl)
    fields.update(absolute_at=now + 2 * ttl)
    fields.update(kw)
    return Record(**fields)


def _rotation(old: Record, now: float, view: dict[str, str], **carry: Any) -> Create:
    """The Create a rotating request sends: its own view as data, a tombstone for
    a signed-in session, and (in ``carry``) its changes since the load."""
    new = make_record(now, user=old.user_id, handle=old.handle, data=view)
    tomb = None
    if old.user_id is not None:
        tomb = ended(old, "rotated", now, 3600.0, successor=new.key)
    return Create(new, replaces=old.key, tombstone=tomb, keep_for=3600.0, **carry)


class CarryConformance:
    """Carrying rotations: per-key merging at the store, as patches get (CC-01)."""

    def test_rotation_carries_a_concurrent_write_to_another_key(
        self, face: Any, now: float
    ) -> None:
        """What another request committed after this one's load survives the rotation."""
        old = make_record(now, user="ivan", data={"a": "1", "b": "2", "x": "9"})
        face.apply([Create(old)], now)
        # the other request: a new key, a changed key, a deleted key
        assert face.apply([Patch(old.key, set={"c": "3", "b": "22"}, delete=("a",))], now).ok
        view = {"a": "1", "b": "2", "d": "4"}  # loaded before that patch, then d set, x deleted
        op = _rotation(old, now, view, carry=True, set={"d": "4"}, delete=("x",), max_bytes=CAP)
        assert face.apply([op], now).ok
        assert face.load(old.key, now) is None
        got = face.load(op.record.key, now)
        assert got is not None and got.data == {"b": "22", "c": "3", "d": "4"}
        assert got.user_id == "ivan"
        assert [r.key for r in face.by_user("ivan", now)] == [op.record.key]

    def test_anonymous_rotation_carries_too(self, face: Any, now: float) -> None:
        """A session with no user (no tombstone, no user index) carries the same way."""
        old = make_record(now, data={"a": "1"})
        face.apply([Create(old)], now)
        face.apply([Patch(old.key, set={"b": "2"})], now)
        op = _rotation(old, now, {"a": "1"}, carry=True)  # no change of its own
        assert face.apply([op], now).ok
        got = face.load(op.record.key, now)
        assert got is not None and got.data == {"a": "1", "b": "2"}

    def test_rotation_after_clear_carries_nothing(self, face: Any, now: float) -> None:
        """Without ``carry`` (the data was replaced wholesale) the new data is the record's own."""
        old = make_record(now, user="judy", data={"a": "1"})
        face.apply([Create(old)], now)
        face.apply([Patch(old.key, set={"b": "2"})], now)
        op = _rotation(old, now, {"flash": encode("bye")})
        assert face.apply([op], now).ok
        got = face.load(op.record.key, now)
        assert got is not None and got.data == {"flash": encode("bye")}
        assert face.load(old.key, now) is None

    def test_carried_data_above_the_cap_is_refused_whole(self, face: Any, now: float) -> None:
        """Stored data plus the rotation's sets past ``max_bytes``: no rotation at all."""
        old = make_record(now, user="kim", data={"a": encode("x" * 40_000)})
        face.apply([Create(old)], now)
        assert face.apply([Patch(old.key, set={"b": encode("y" * 20_000)}, max_bytes=CAP)], now).ok
        view = {"a": encode("x" * 40_000), "c": encode("z" * 10_000)}  # fits alone
        op = _rotation(old, now, view, carry=True, set={"c": view["c"]}, max_bytes=CAP)
        result = face.apply([op], now)
        assert result.too_large and not result.ok
        assert face.load(op.record.key, now) is None
        kept = face.load(old.key, now)
        assert kept is not None and set(kept.data) == {"a", "b"}
        assert [r.key for r in face.by_user("kim", now)] == [old.key]
        assert face.load_handle(old.handle, now).key == old.key
        # dropping a key makes room: the same rotation then applies
        fits = _rotation(
            old, now, view, carry=True, set={"c": view["c"]}, delete=("a",), max_bytes=CAP
        )
        assert face.apply([fits], now).ok
        got = face.load(fits.record.key, now)
        assert got is not None and set(got.data) == {"b", "c"}

    def test_carrying_rotation_of_a_dead_record_does_nothing(self, face: Any, now: float) -> None:
        """Revoked or expired meanwhile: no successor, nothing carried, the old ID stays dead."""
        revoked = make_record(now, user="lee", data={"a": "1"})
        expired = make_record(now - 100, user="lee", ttl=50, data={"a": "1"})
        face.apply([Create(revoked), Create(expired)], now - 100)
        face.apply([Delete(revoked.key)], now)
        for old in (revoked, expired):
            op = _rotation(old, now, {"a": "1", "b": "2"}, carry=True, set={"b": "2"})
            result = face.apply([op], now)
            assert not result.ok and not result.too_large
            assert face.load(op.record.key, now) is None
            assert face.load(old.key, now) is None
        assert face.by_user("lee", now) == []

    def test_a_racing_patch_is_carried_or_refused(self, face: Any, now: float) -> None:
        """Rotation and patch truly in parallel: an applied patch is in the successor."""
        for round_ in range(8):
            old = make_record(now, user="mia", data={"a": "1"})
            face.apply([Create(old)], now)
            op = _rotation(old, now, {"a": "1", "r": "1"}, carry=True, set={"r": "1"})
            write = Patch(old.key, set={f"w{round_}": "2"}, meta={"last_active": now})
            rotated, patched = face.apply_parallel([[op], [write]], now)
            assert rotated.ok
            got = face.load(op.record.key, now)
            assert got is not None
            expected = {"a": "1", "r": "1"} | ({f"w{round_}": "2"} if patched.ok else {})
            assert got.data == expected, f"round {round_}: patch ok={patched.ok}"
