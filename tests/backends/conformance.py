"""The backend conformance suite (CC-04): one set of tests for every store.

A backend's test module subclasses :class:`BackendConformance` and provides a
``backend`` fixture; every test then runs on the sync face and the async face
(``face`` fixture), so both hand-written faces keep the same contract.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sessionware.records import (
    ApplyResult,
    Create,
    Delete,
    Op,
    Patch,
    Record,
    Touch,
    data_size,
    encode,
)

from .carry import CarryConformance

#: The default ``max_data_bytes``.
CAP = 64 * 1024


class SyncFace:
    def __init__(self, backend: Any) -> None:
        self.b = backend

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        if touch is None:
            return self.b.load(key, now)
        return self.b.load(key, now, touch)

    def load_handle(self, handle: str, now: float) -> Record | None:
        return self.b.load_handle(handle, now)

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        return self.b.apply(ops, now)

    def by_user(self, user_id: str, now: float) -> list[Record]:
        return self.b.by_user(user_id, now)

    def apply_parallel(self, batches: Sequence[Sequence[Op]], now: float) -> list[ApplyResult]:
        """Every batch applied at once, from its own thread."""
        with ThreadPoolExecutor(max_workers=len(batches)) as pool:
            return list(pool.map(lambda ops: self.b.apply(ops, now), batches))

    def issue(self, service: Any, user_id: str) -> Any:
        return service.issue(user_id)


class AsyncFace(SyncFace):
    """The async face, each call run by ``run`` (one loop, or a new loop per call)."""

    def __init__(self, backend: Any, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        super().__init__(backend)
        self.run = run

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        if touch is None:
            return self.run(self.b.aload(key, now))  # type: ignore[no-any-return]
        return self.run(self.b.aload(key, now, touch))  # type: ignore[no-any-return]

    def load_handle(self, handle: str, now: float) -> Record | None:
        return self.run(self.b.aload_handle(handle, now))  # type: ignore[no-any-return]

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        return self.run(self.b.aapply(ops, now))  # type: ignore[no-any-return]

    def by_user(self, user_id: str, now: float) -> list[Record]:
        return self.run(self.b.aby_user(user_id, now))  # type: ignore[no-any-return]

    def apply_parallel(self, batches: Sequence[Sequence[Op]], now: float) -> list[ApplyResult]:
        """Every batch applied at once, as concurrent tasks on one loop."""

        async def run() -> list[ApplyResult]:
            return list(await asyncio.gather(*(self.b.aapply(ops, now) for ops in batches)))

        return self.run(run())  # type: ignore[no-any-return]

    def issue(self, service: Any, user_id: str) -> Any:
        return self.run(service.aissue(user_id))


def run_on_bare_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on a new loop closed without ``shutdown_asyncgens`` (old-style code)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


#: How the async face meets event loops: "async" one loop for the whole test;
#: "async-run" ``asyncio.run`` per call (a script, TestClient without ``with``,
#: pytest-asyncio's loop per test); "async-bare" a new loop per call, closed
#: with a bare ``loop.close()``.
LOOP_PATTERNS = ("async", "async-run", "async-bare")


_counter = iter(range(10**9))


def make_record(now: float, *, user: str | None = None, ttl: float = 600, **kw: Any) -> Record:
    n = next(_counter)
    fields: dict[str, Any] = {
        "key": f"k{n:04d}-{time.monotonic_ns()}",
        "handle": f"h{n:04d}-{time.monotonic_ns()}",
        "created_at": now,
        "last_active": now,
        "expires_at": now + ttl,
        "absolute_at": now + ttl * 2,
        "user_id": user,
    }
    fields.update(kw)
    return Record(**fields)


class BackendConformance(CarryConformance):
    """Subclass and provide a ``backend`` fixture (function-scoped, isolated).

    The rotation tests of :class:`~tests.backends.carry.CarryConformance`
    (issue #18) come with it.
    """

    #: The faces every test runs on; a backend whose async face must serve
    #: any number of event loops lists the :data:`LOOP_PATTERNS` too.
    FACES: tuple[str, ...] = ("sync", "async")

    @pytest.fixture
    def face(self, request: pytest.FixtureRequest, backend: Any) -> Iterator[SyncFace]:
        kind = getattr(request, "param", "sync")
        if kind == "sync":
            yield SyncFace(backend)
        elif kind == "async-run":
            yield AsyncFace(backend, asyncio.run)
            asyncio.run(backend.aclose())
        elif kind == "async-bare":
            yield AsyncFace(backend, run_on_bare_loop)
            asyncio.run(backend.aclose())  # also releases the bare loops' leftovers
        else:
            loop = asyncio.new_event_loop()
            try:
                yield AsyncFace(backend, loop.run_until_complete)
                loop.run_until_complete(backend.aclose())
            finally:
                loop.close()

    @pytest.fixture
    def now(self) -> float:
        return time.time()

    def test_create_then_load_returns_every_field(self, face: SyncFace, now: float) -> None:
        """A created record loads back with data, metadata, info and extra intact."""
        rec = make_record(
            now,
            user="alice",
            auth_time=now - 5,
            remember=True,
            data={"a": "1", "b": '{"x":[1,2]}', "ü": '"ß"'},
            info={"ip": "203.0.113.9", "ua": "Firefox"},
            extra={"gen": 3, "rt": "abc"},
        )
        assert face.apply([Create(rec)], now).ok
        got = face.load(rec.key, now)
        assert got is not None
        assert got.handle == rec.handle
        assert got.data == rec.data
        assert got.user_id == "alice" and got.remember is True
        assert got.auth_time == pytest.approx(now - 5, abs=1e-3)
        assert got.created_at == pytest.approx(now, abs=1e-3)
        assert got.expires_at == pytest.approx(rec.expires_at, abs=1e-3)
        assert got.absolute_at == pytest.approx(rec.absolute_at, abs=1e-3)
        assert got.info == rec.info
        assert got.extra == rec.extra

    def test_missing_key_loads_none(self, face: SyncFace, now: float) -> None:
        """An unknown key is None, not an error."""
        assert face.load("no-such-key", now) is None
        assert face.load_handle("no-such-handle", now) is None

    def test_expired_record_is_never_returned(self, face: SyncFace, now: float) -> None:
        """A record at or past expires_at is invisible even before it is purged (EX-05)."""
        rec = make_record(now, user="bob", ttl=30)
        face.apply([Create(rec)], now)
        assert face.load(rec.key, now + 29) is not None
        assert face.load(rec.key, now + 30) is None
        assert face.load_handle(rec.handle, now + 31) is None
        assert face.by_user("bob", now + 31) == []

    def test_create_never_overwrites_a_live_record(self, face: SyncFace, now: float) -> None:
        """Creating at a taken key fails and leaves the first record alone (ID-05)."""
        rec = make_record(now, data={"who": '"first"'})
        assert face.apply([Create(rec)], now).ok
        clash = make_record(now, key=rec.key, data={"who": '"second"'})
        assert not face.apply([Create(clash)], now).ok
        got = face.load(rec.key, now)
        assert got is not None and got.data == {"who": '"first"'}

    def test_patch_sets_and_deletes_fields_and_metadata(self, face: SyncFace, now: float) -> None:
        """A patch changes only what it names."""
        rec = make_record(now, data={"keep": "1", "drop": "2", "change": "3"}, extra={"n": 1})
        face.apply([Create(rec)], now)
        patch = Patch(
            rec.key,
            set={"change": "33", "new": '"x"'},
            delete=("drop",),
            meta={"last_active": now + 10, "expires_at": now + 900, "user_id": "carol"},
            extra={"m": "y"},
        )
        assert face.apply([patch], now + 10).ok
        got = face.load(rec.key, now + 10)
        assert got is not None
        assert got.data == {"keep": "1", "change": "33", "new": '"x"'}
        assert got.last_active == pytest.approx(now + 10, abs=1e-3)
        assert got.expires_at == pytest.approx(now + 900, abs=1e-3)
        assert got.user_id == "carol"
        assert got.extra == {"n": 1, "m": "y"}
        assert [r.key for r in face.by_user("carol", now + 10)] == [rec.key]

    def test_patch_of_a_missing_record_does_not_resurrect_it(
        self, face: SyncFace, now: float
    ) -> None:
        """A patch after a delete is a no-op that reports not-ok (TM-01)."""
        rec = make_record(now)
        face.apply([Create(rec)], now)
        face.apply([Delete(rec.key)], now)
        result = face.apply([Patch(rec.key, set={"a": "1"}, meta={"expires_at": now + 99})], now)
        assert not result.ok
        assert face.load(rec.key, now) is None

    def test_patch_expect_is_compare_and_set(self, face: SyncFace, now: float) -> None:
        """A patch with expect applies only when extra still holds those values."""
        rec = make_record(now, extra={"rt": "old", "gen": 1})
        face.apply([Create(rec)], now)
        assert not face.apply([Patch(rec.key, extra={"rt": "x"}, expect={"rt": "nope"})], now).ok
        assert face.apply(
            [Patch(rec.key, extra={"rt": "new", "gen": 2}, expect={"rt": "old"})], now
        ).ok
        assert not face.apply([Patch(rec.key, extra={"rt": "z"}, expect={"rt": "old"})], now).ok
        got = face.load(rec.key, now)
        assert got is not None and got.extra == {"rt": "new", "gen": 2}

    def test_patches_to_distinct_keys_both_persist(self, face: SyncFace, now: float) -> None:
        """Two commits touching different keys lose neither (CC-01)."""
        rec = make_record(now, data={"base": "0"})
        face.apply([Create(rec)], now)
        face.apply([Patch(rec.key, set={"a": "1"})], now)
        face.apply([Patch(rec.key, set={"b": "2"})], now)
        face.apply([Patch(rec.key, set={"a": "11"})], now)  # same key: last writer wins (CC-02)
        got = face.load(rec.key, now)
        assert got is not None and got.data == {"base": "0", "a": "11", "b": "2"}

    def test_delete_removes_record_and_indexes(self, face: SyncFace, now: float) -> None:
        """After a delete neither the key, the handle nor the user index finds it."""
        rec = make_record(now, user="dave")
        face.apply([Create(rec)], now)
        assert face.load_handle(rec.handle, now) is not None
        face.apply([Delete(rec.key)], now)
        assert face.load(rec.key, now) is None
        assert face.load_handle(rec.handle, now) is None
        assert face.by_user("dave", now) == []
        assert face.apply([Delete(rec.key)], now).ok  # deleting twice is harmless

    def test_replace_rotates_atomically(self, face: SyncFace, now: float) -> None:
        """Create(replaces=old) moves the session to a new key and kills the old one (CC-03)."""
        old = make_record(now, user="erin", data={"cart": "[1]"})
        face.apply([Create(old)], now)
        new = make_record(now, user="erin", handle=old.handle, data={"cart": "[1]"})
        assert face.apply([Create(new, replaces=old.key)], now).ok
        assert face.load(old.key, now) is None
        got = face.load(new.key, now)
        assert got is not None and got.data == {"cart": "[1]"}
        by_handle = face.load_handle(old.handle, now)
        assert by_handle is not None and by_handle.key == new.key
        assert [r.key for r in face.by_user("erin", now)] == [new.key]

    def test_replace_of_a_dead_record_creates_nothing(self, face: SyncFace, now: float) -> None:
        """Rotating a session that was revoked meanwhile does not bring it back."""
        old = make_record(now)
        face.apply([Create(old)], now)
        face.apply([Delete(old.key)], now)
        new = make_record(now)
        assert not face.apply([Create(new, replaces=old.key)], now).ok
        assert face.load(new.key, now) is None

    def test_by_user_lists_live_sessions_oldest_first(self, face: SyncFace, now: float) -> None:
        """The user index lists live records in creation order and drops expired ones (TM-02/05)."""
        a = make_record(now - 20, user="frank", ttl=1000)
        b = make_record(now - 10, user="frank", ttl=15)
        c = make_record(now, user="frank", ttl=1000)
        other = make_record(now, user="grace")
        face.apply([Create(c), Create(a), Create(b), Create(other)], now)
        assert [r.key for r in face.by_user("frank", now)] == [a.key, b.key, c.key]
        assert [r.key for r in face.by_user("frank", now + 10)] == [a.key, c.key]
        assert face.by_user("nobody", now) == []

    def test_max_per_user_evicts_the_oldest(self, face: SyncFace, now: float) -> None:
        """A login beyond the limit evicts that user's oldest sessions and reports them (TM-06)."""
        recs = [make_record(now + i, user="heidi") for i in range(3)]
        for rec in recs:
            assert (
                face.apply([Create(rec, max_per_user=2)], now + 3).evicted == () or rec is recs[2]
            )
        listed = face.by_user("heidi", now + 3)
        assert [r.key for r in listed] == [recs[1].key, recs[2].key]
        assert face.load(recs[0].key, now + 3) is None
        fourth = make_record(now + 5, user="heidi")
        result = face.apply([Create(fourth, max_per_user=2)], now + 5)
        assert result.evicted == (recs[1].handle,)

    # -- the data cap held by the store itself (#13) --------------------------------------

    def test_a_patch_past_max_bytes_applies_nothing(self, face: SyncFace, now: float) -> None:
        """A patch that would push the stored data past its cap is refused whole, metadata too."""
        rec = make_record(now, data={"a": encode("x" * 40_000)})
        face.apply([Create(rec)], now)
        big = Patch(
            rec.key,
            set={"b": encode("y" * 40_000)},
            meta={"last_active": now + 1},
            max_bytes=CAP,
        )
        result = face.apply([big], now)
        assert result.too_large and not result.ok
        got = face.load(rec.key, now)
        assert got is not None and set(got.data) == {"a"} and got.last_active == now
        swap = Patch(rec.key, set={"a": encode("z" * 50_000)}, max_bytes=CAP)
        assert face.apply([swap], now).ok  # replacing a key counts its new value only
        shrink = Patch(rec.key, set={"b": encode("y" * 40_000)}, delete=("a",), max_bytes=CAP)
        assert face.apply([shrink], now).ok
        got = face.load(rec.key, now)
        assert got is not None and set(got.data) == {"b"}

    def test_the_cap_counts_utf8_bytes_of_any_json(self, face: SyncFace, now: float) -> None:
        """Escapes, quotes and non-ASCII text are measured as the core measures them."""
        text = encode('q"\\n\u00e9\u2603 ' * 100)  # quotes, backslashes, é, ☃
        rec = make_record(now, data={"t": text})
        face.apply([Create(rec)], now)
        room = CAP - data_size({"t": text})
        fits = encode("x" * (room - len("u") - 4 - 2))  # exactly CAP with key "u"
        assert data_size({"t": text, "u": fits}) == CAP
        assert face.apply([Patch(rec.key, set={"u": fits}, max_bytes=CAP)], now).ok
        over = encode("x" * (room - len("u") - 4 - 1))
        assert face.apply([Patch(rec.key, set={"u": over}, max_bytes=CAP)], now).too_large

    def test_concurrent_writes_never_pass_the_cap(self, face: SyncFace, now: float) -> None:
        """12 parallel 40 KB writes to distinct keys under a 64 KiB cap: one is stored, no more."""
        rec = make_record(now)
        face.apply([Create(rec)], now)
        ops = [
            [Patch(rec.key, set={f"k{i}": encode(str(i) * 40_000)}, max_bytes=CAP)]
            for i in range(12)
        ]
        results = face.apply_parallel(ops, now)
        got = face.load(rec.key, now)
        assert got is not None and data_size(got.data) <= CAP
        assert sum(r.ok for r in results) == 1 == len(got.data)
        assert all(r.too_large for r in results if not r.ok)

    def test_token_logins_obey_max_sessions_per_user(
        self, face: SyncFace, backend: Any, now: float
    ) -> None:
        """TokenService.issue evicts the user's oldest past max_sessions_per_user (#13)."""
        from sessionware.tokens import TokenService

        service = TokenService(
            backend,
            keys={"k1": b"k" * 32},
            algorithm="HS256",
            issuer="https://issuer.test",
            audience="tests",
            max_sessions_per_user=3,
        )
        other = make_record(now, user="someone-else")
        face.apply([Create(other)], now)
        for _ in range(5):
            face.issue(service, "ivan")
        assert len(face.by_user("ivan", time.time())) == 3
        assert face.load(other.key, now) is not None


class TouchOnLoadConformance:
    """For backends with ``touches_on_load``: mix in next to :class:`BackendConformance`."""

    def test_load_with_touch_slides_a_due_session(
        self, face: SyncFace, now: float, backend: Any
    ) -> None:
        """A backend that touches on load slides only due, live sessions, in the read (EX-06)."""
        assert backend.touches_on_load is True
        touch = Touch(after=60, idle=600, remember_idle=6000)
        fresh = make_record(now - 30, ttl=600)
        due = make_record(now - 100, ttl=600)
        idle_out = make_record(now - 700, ttl=10_000)  # past its idle limit, stored deadline later
        kept = make_record(now - 100, ttl=600, remember=True, absolute_at=now + 1000)
        face.apply([Create(r) for r in (fresh, due, idle_out, kept)], now)
        got = face.load(fresh.key, now, touch)
        assert got is not None and got.last_active == pytest.approx(now - 30, abs=1e-3)
        got = face.load(due.key, now, touch)
        assert got is not None
        assert got.last_active == pytest.approx(now, abs=1e-3)
        assert got.expires_at == pytest.approx(now + 600, abs=1e-3)
        stored = face.load(due.key, now)
        assert stored is not None and stored.expires_at == pytest.approx(now + 600, abs=1e-3)
        got = face.load(idle_out.key, now, touch)
        assert got is not None and got.last_active == pytest.approx(now - 700, abs=1e-3)
        got = face.load(kept.key, now, touch)
        assert got is not None and got.expires_at == pytest.approx(now + 1000, abs=1e-3)
