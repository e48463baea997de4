"""Helpers for adapter tests: a switchable failing backend and a Set-Cookie reader."""

from __future__ import annotations

from collections.abc import Sequence

from sessionware import BackendUnavailable
from sessionware.backends import MemoryBackend
from sessionware.records import ApplyResult, Op, Record


class FlakyBackend(MemoryBackend):
    """A MemoryBackend that raises BackendUnavailable on every call while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise BackendUnavailable("store is down (test)")

    def load(self, key: str, now: float) -> Record | None:
        self._check()
        return super().load(key, now)

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        self._check()
        return super().apply(ops, now)

    async def aload(self, key: str, now: float) -> Record | None:
        self._check()
        return await super().aload(key, now)

    async def aapply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        self._check()
        return await super().aapply(ops, now)


def cookie_attrs(header: str) -> dict[str, str]:
    """``{"name": ..., "value": ..., "max-age": ..., "secure": "", ...}`` from one Set-Cookie."""
    first, *rest = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    attrs = {"name": name, "value": value}
    for part in rest:
        key, _, val = part.partition("=")
        attrs[key.lower()] = val
    return attrs
