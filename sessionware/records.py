"""What the store holds (:class:`Record`) and how it changes (:data:`Op`).

Backends import only this module and :mod:`sessionware.errors`; they never
see IDs, cookies or requests.  Session data travels as ``{key: JSON text}``:
the core encodes once (it must measure sizes anyway) and backends store the
strings as they are, one field per key, which is what lets a commit write a
*patch* instead of the whole blob (CC-01: two requests setting different keys
both persist).

Every record carries ``expires_at``, the earlier of its idle and absolute
deadlines, as a Unix timestamp.  Backends must never return a record whose
``expires_at`` is at or before ``now`` (EX-05) and should let the store drop
it by itself at that moment (Redis TTL, SQL sweep, memory heap).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "ApplyResult",
    "Create",
    "Delete",
    "Op",
    "Patch",
    "Record",
    "Touch",
    "decode",
    "encode",
]

#: Metadata fields a :class:`Patch` may set (``Record`` attribute names).
PATCHABLE = frozenset(
    {"last_active", "expires_at", "absolute_at", "user_id", "auth_time", "remember"}
)


# One encoder, built once: ``json.dumps`` with keyword options builds a new
# JSONEncoder on every call (about 2.7 us per value against 1.3 us here).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# The C scanner behind ``json.loads``, called directly: it skips the wrapper's
# type checks and whitespace regexes (about 0.75 us per value against 2.8 us).
# (typeshed does not declare ``scan_once``, an attribute every JSONDecoder has.)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def encode(value: Any) -> str:
    """Compact JSON for one session value (never pickle)."""
    return _ENCODER.encode(value)


def decode(text: str) -> Any:
    """The value of one stored JSON text; anything unusual goes to ``json.loads``.

    The fast path accepts only a text the scanner consumes exactly, which is
    what :func:`encode` writes; surrounding whitespace, bytes or invalid JSON
    take the full parser, so results and errors are ``json.loads``'s own.
    """
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, TypeError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


@dataclass(slots=True)
class Record:
    """One stored session.

    ``data`` maps keys to JSON text.  ``info`` holds small string facts about
    the client recorded at login (address, user agent summary, binding
    fingerprint) for ``list_sessions``.  ``extra`` holds small JSON scalars
    that layers above the core keep with the session (refresh-token hashes
    and generations); :class:`Patch` can update it conditionally.
    """

    key: str
    handle: str
    created_at: float
    last_active: float
    expires_at: float
    absolute_at: float
    user_id: str | None = None
    auth_time: float | None = None
    remember: bool = False
    data: dict[str, str] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def live(self, now: float) -> bool:
        """True while the record has not reached ``expires_at``."""
        return now < self.expires_at

    def copy(self) -> Record:
        """A copy whose dicts can be changed without touching this one."""
        return Record(
            self.key,
            self.handle,
            self.created_at,
            self.last_active,
            self.expires_at,
            self.absolute_at,
            self.user_id,
            self.auth_time,
            self.remember,
            dict(self.data),
            dict(self.info),
            dict(self.extra),
        )


@dataclass(frozen=True, slots=True)
class Create:
    """Insert a new record; never overwrites an existing key (ID-05).

    When ``max_per_user`` is set and the record has a ``user_id``, the
    backend evicts that user's oldest sessions (by ``created_at``) so that at
    most ``max_per_user`` remain, atomically with the insert (TM-06), and
    reports their handles in :attr:`ApplyResult.evicted`.

    With ``replaces`` this is an ID rotation (login, regenerate, renewal):
    the new record is inserted and the record at ``replaces`` deleted as one
    step, and only if ``replaces`` is still live; otherwise nothing happens
    and the result is not ok.  So a session revoked while a request was in
    flight is not resurrected under a new ID, and there is no instant where
    both or neither ID loads the session (CC-03).
    """

    record: Record
    max_per_user: int | None = None
    replaces: str | None = None


@dataclass(slots=True)
class Patch:
    """Change an existing record in place; a missing or expired record stays missing.

    Not frozen: every write request builds one, and a frozen dataclass's
    ``__init__`` costs about three times a plain one's; backends treat it as
    read-only.

    Applying a patch to a key that does not exist is a no-op (a session
    revoked while a request was in flight is not resurrected; TM-01).  When
    ``expect`` is given, the patch applies only if every ``extra[k] == v``
    holds at that moment (compare-and-set, used for refresh-token rotation).
    """

    key: str
    set: Mapping[str, str] = field(default_factory=dict)
    delete: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.meta) - PATCHABLE
        if unknown:
            raise ValueError(f"Patch.meta cannot set {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove a record (and its index entries) if present."""

    key: str


Op: TypeAlias = Create | Patch | Delete


@dataclass(frozen=True, slots=True)
class Touch:
    """Slide a record's idle deadline while loading it, in the same round trip.

    Passed to ``load``/``aload`` of backends whose ``touches_on_load`` is
    true.  When the loaded record is live, was last active ``after`` seconds
    ago or more, and is still within its idle limit (``idle``, or
    ``remember_idle`` for remember-me records), the backend sets
    ``last_active = now`` and ``expires_at = min(now + idle, absolute_at)``
    before returning it.  A read that slides the expiry is then one round
    trip instead of a read plus a write (EX-06).
    """

    after: float
    idle: float
    remember_idle: float

    def due(self, record: Record, now: float) -> bool:
        """True when ``record`` should be touched at ``now``."""
        idle = self.remember_idle if record.remember else self.idle
        return now - record.last_active >= self.after and now < record.last_active + idle

    def deadline(self, record: Record, now: float) -> float:
        """The new ``expires_at`` of a touched record."""
        idle = self.remember_idle if record.remember else self.idle
        return min(now + idle, record.absolute_at)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What :meth:`Backend.apply` did.

    ``ok`` is False when any :class:`Patch` found its record missing or its
    ``expect`` condition false, or a :class:`Create` found its key taken.
    ``evicted`` lists handles removed by ``max_per_user``.
    """

    ok: bool = True
    evicted: tuple[str, ...] = ()


APPLIED = ApplyResult()
