"""Helpers for testing apps that use sessionware (and for our own tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .backends.base import Backend
from .records import ApplyResult, Op, Record, Touch

__all__ = ["CountingBackend", "FakeClock"]


class FakeClock:
    """A clock you move by hand: ``clock.advance(seconds)``.

    Pass it as ``clock=`` to a middleware or engine to test expiry without
    sleeping.  It starts at the real time so stores with their own TTLs agree.
    """

    def __init__(self, start: float | None = None) -> None:
        import time

        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingBackend:
    """Wraps a backend and counts calls per method (``calls["load"]``...)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.touches_on_load = bool(getattr(inner, "touches_on_load", False))
        self.calls: Counter[str] = Counter()
        self.applied: list[Sequence[Op]] = []

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        self.calls["load"] += 1
        if touch is None:
            return self.inner.load(key, now)
        return self.inner.load(key, now, touch)  # type: ignore[call-arg]

    def load_handle(self, handle: str, now: float) -> Record | None:
        self.calls["load_handle"] += 1
        return self.inner.load_handle(handle, now)

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        self.calls["apply"] += 1
        self.applied.append(ops)
        return self.inner.apply(ops, now)

    def by_user(self, user_id: str, now: float) -> list[Record]:
        self.calls["by_user"] += 1
        return self.inner.by_user(user_id, now)

    def close(self) -> None:
        self.inner.close()

    async def aload(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        self.calls["load"] += 1
        if touch is None:
            return await self.inner.aload(key, now)
        return await self.inner.aload(key, now, touch)  # type: ignore[call-arg]

    async def aload_handle(self, handle: str, now: float) -> Record | None:
        self.calls["load_handle"] += 1
        return await self.inner.aload_handle(handle, now)

    async def aapply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        self.calls["apply"] += 1
        self.applied.append(ops)
        return await self.inner.aapply(ops, now)

    async def aby_user(self, user_id: str, now: float) -> list[Record]:
        self.calls["by_user"] += 1
        return await self.inner.aby_user(user_id, now)

    async def aclose(self) -> None:
        await self.inner.aclose()
