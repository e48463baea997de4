"""The memory store's compact record: a small tuple around one :mod:`marshal` blob.

:class:`~sessionware.backends.memory.MemoryBackend` keeps its most recently
used records whole and stores the others as :class:`Row` (issue #16): about
half the memory of a :class:`~sessionware.records.Record` with its dicts and
a str object per value.
"""

from __future__ import annotations

import marshal
from itertools import chain
from operator import itemgetter
from typing import Any

from ..records import Record

__all__ = ["Row"]


def _field(index: int) -> Any:
    return property(itemgetter(index), doc=f"Item {index} of the row.")


class Row(tuple[Any, ...]):
    """A record stored compactly: ``(key, handle, expires_at, user_id, packed)``.

    What the indexes, the sweep and eviction read stays a plain item (so they
    read a row as they read a record); everything else is one
    :mod:`marshal` blob, which costs a few bytes per string where a str
    object costs about 50, and two dicts cost 350.  :meth:`record` decodes it
    (about 2 us), which happens only when a compact record is read again.
    The blob is only ever one this process packed itself, never outside
    input, which is what makes :mod:`marshal` safe here.
    """

    __slots__ = ()

    key: str = _field(0)
    handle: str = _field(1)
    expires_at: float = _field(2)
    user_id: str | None = _field(3)

    @classmethod
    def of(cls, r: Record) -> Row | None:
        """The compact form of ``r``, or None when some value cannot be packed."""
        fields: list[Any] = [r.created_at, r.last_active, r.absolute_at, r.auth_time]
        fields += (r.remember, r.extra or None, len(r.data))
        fields.extend(chain.from_iterable(r.data.items()))
        fields.extend(chain.from_iterable(r.info.items()))
        try:
            packed = marshal.dumps(tuple(fields))
        except ValueError:  # a str subclass or an odd extra value: keep the record whole
            return None
        return cls((r.key, r.handle, r.expires_at, r.user_id, packed))

    @property
    def created_at(self) -> float:
        return float(marshal.loads(self[4])[0])  # noqa: S302 - our own bytes

    def record(self) -> Record:
        """An equal :class:`Record` with dicts of its own."""
        packed = marshal.loads(self[4])  # noqa: S302 - bytes this process packed
        created, last, absolute, auth, remember, extra, n, *pairs = packed
        end = 2 * n
        return Record(
            self[0],
            self[1],
            created,
            last,
            self[2],
            absolute,
            self[3],
            auth,
            remember,
            dict(zip(pairs[:end:2], pairs[1:end:2], strict=True)),
            dict(zip(pairs[end::2], pairs[end + 1 :: 2], strict=True)),
            extra or {},
        )
