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
    "Tombstone",
    "Touch",
    "cap_key",
    "companion",
    "data_size",
    "decode",
    "encode",
    "ended",
    "entry_size",
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


#: Bytes of overhead per key counted by the size limit (quotes, colon, comma).
PER_KEY = 4


def entry_size(key: str, text: str) -> int:
    """Serialized bytes one ``key: text`` entry adds: UTF-8, since stores hold bytes.

    The one measure of ``max_data_bytes``: the session checks it as the app
    writes, and every backend checks the stored total with it (``Patch.max_bytes``).
    """
    size = len(key) if key.isascii() else len(key.encode())
    size += len(text) if text.isascii() else len(text.encode())
    return size + PER_KEY


def data_size(data: Mapping[str, str]) -> int:
    """The serialized size of a whole ``{key: JSON text}`` mapping (see :func:`entry_size`)."""
    return sum(entry_size(k, v) for k, v in data.items())


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
    both or neither ID loads the session (CC-03).  With ``carry`` it also
    keeps a :class:`Patch`'s per-key promise (CC-01): a write another request
    committed to the old record after this one loaded it is not lost (#18).
    """

    record: Record
    max_per_user: int | None = None
    replaces: str | None = None
    #: Written at ``replaces`` as the old ID dies (a rotation), by backends
    #: that keep tombstones; ignored by those that do not.
    tombstone: Tombstone | None = None
    #: How long (seconds, at most) the backend keeps the tombstones it makes
    #: itself for this record: its expiry companion and, when evicted by
    #: ``max_per_user``, the eviction's.  None: this record gets none.
    keep_for: float | None = None
    #: A rotation that carries the replaced record's data over (#18): the
    #: new record's data becomes the data stored at ``replaces`` *when the
    #: rotation applies* (concurrent writers' keys included), plus ``set``,
    #: minus ``delete`` (this request's own changes since its load); the
    #: engine still fills ``record.data`` with the request's own view, which
    #: is what a backend written before this field stores.  False (the
    #: default, and what 0.1 sent): the request replaced the data wholesale
    #: (or had none to keep) and ``record.data`` is the new data.
    carry: bool = False
    set: Mapping[str, str] = field(default_factory=dict)
    delete: tuple[str, ...] = ()
    #: The data cap of a carrying rotation, as :attr:`Patch.max_bytes`: measured
    #: on the carried result, which is refused whole (``too_large``) above it.
    max_bytes: int | None = None

    def carried(self, stored: Mapping[str, str]) -> dict[str, str]:
        """The new record's data, given the replaced record's as stored (one rule, every store)."""
        data = dict(stored)
        data.update(self.set)
        for name in self.delete:
            data.pop(name, None)
        return data


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

    ``max_bytes`` is the data cap enforced by the store itself, atomically
    with the write: when the data as stored *after* this patch (concurrent
    writers' keys included) would measure more than ``max_bytes``
    (:func:`data_size`), the backend applies none of the commit's ops and
    answers ``ApplyResult(ok=False, too_large=True)``.  None: no cap.
    """

    key: str
    set: Mapping[str, str] = field(default_factory=dict)
    delete: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.meta) - PATCHABLE
        if unknown:
            raise ValueError(f"Patch.meta cannot set {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove a record (and its index entries) if present.

    ``tombstone``, when given, is stored at ``key`` in the same unit of work
    by backends that keep tombstones (others ignore it, and the ID then reads
    as unknown).
    """

    key: str
    tombstone: Tombstone | None = None


Op: TypeAlias = Create | Patch | Delete


def cap_key(op: Op) -> str | None:
    """The key whose stored data ``op``'s data cap is measured on, or None: no check.

    A :class:`Patch` with ``max_bytes`` and keys to set is measured on its own
    record; a carrying :class:`Create` on the record it replaces (the data it
    carries over).  Writing no key cannot grow a session, so neither is checked.
    """
    if isinstance(op, Delete) or op.max_bytes is None or not op.set:
        return None
    if isinstance(op, Patch):
        return op.key
    return op.replaces if op.carry else None


#: Why a session ended, as :attr:`Tombstone.reason`.  ``"expiry"`` is the
#: companion written with a signed-in record: it turns into ``"idle"`` or
#: ``"absolute"`` when read after the record is gone (:meth:`Tombstone.resolved`).
REASONS = frozenset(
    {"logout", "revoked", "evicted", "binding", "idle", "absolute", "rotated", "expiry"}
)
#: Slack kept past a remember-me cookie's own expiry, for client clock skew.
SKEW = 60.0


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is left of an ended signed-in session, stored at its storage key.

    It keeps the end's reason and time, the public handle and user, who
    asked (``by``, for revocations), and for a rotation the *storage key* of
    the successor (a hash, never an ID: a dump of the store still yields no
    usable cookie) and whether it was a periodic renewal.  It is never a
    session: no backend counts it in ``len``, ``by_user`` or
    ``list_sessions``, and the store drops it at ``until``.
    """

    key: str
    reason: str
    handle: str
    user_id: str | None
    ended_at: float | None
    until: float
    by: str | None = None
    successor: str | None = None
    renewal: bool = False
    absolute_at: float | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown end reason {self.reason!r}")

    def resolved(self, now: float) -> tuple[str, float | None]:
        """``(reason, ended_at)``; an expiry companion read after its record vanished
        means the absolute deadline passed, or else the idle one (whose exact
        moment no store records: that would cost a write on every touch)."""
        if self.reason != "expiry":
            return self.reason, self.ended_at
        if self.absolute_at is not None and now >= self.absolute_at:
            return "absolute", self.absolute_at
        return "idle", None

    def dumps(self) -> str:
        """Compact JSON (the key is where it is stored, so it is not repeated)."""
        body: dict[str, Any] = {"r": self.reason, "h": self.handle, "e": self.until}
        for name, value in (
            ("u", self.user_id),
            ("t", self.ended_at),
            ("b", self.by),
            ("s", self.successor),
            ("a", self.absolute_at),
        ):
            if value is not None:
                body[name] = value
        if self.renewal:
            body["n"] = 1
        return _ENCODER.encode(body)

    @classmethod
    def loads(cls, key: str, text: str | bytes) -> Tombstone | None:
        """The tombstone in ``text``, or None when it is not one we wrote."""
        try:
            body = json.loads(text)
            return cls(
                key,
                body["r"],
                body["h"],
                body.get("u"),
                body.get("t"),
                float(body["e"]),
                body.get("b"),
                body.get("s"),
                bool(body.get("n")),
                body.get("a"),
            )
        except (ValueError, KeyError, TypeError):
            return None


def ended(
    record: Record,
    reason: str,
    now: float,
    keep_for: float,
    *,
    by: str | None = None,
    successor: str | None = None,
    renewal: bool = False,
) -> Tombstone:
    """The tombstone of ``record`` ending now, kept while its cookie can come back.

    A remember-me cookie dies with the session's absolute deadline, so its
    tombstone need not outlive that; a browser-session cookie lives as long
    as the browser does, so it keeps the full ``keep_for``.
    """
    life = keep_for
    if record.remember:
        life = min(keep_for, max(record.absolute_at - now, 0.0) + SKEW)
    return Tombstone(
        record.key,
        reason,
        record.handle,
        record.user_id,
        now,
        now + life,
        by,
        successor,
        renewal,
    )


def companion(record: Record, keep_for: float) -> Tombstone:
    """The expiry companion of a new signed-in record (see :data:`REASONS`).

    Written with the record, never updated by touches: when the record's
    data is dropped at its deadline this small value says why.
    """
    life = min(keep_for, SKEW) if record.remember else keep_for
    return Tombstone(
        record.key,
        "expiry",
        record.handle,
        record.user_id,
        None,
        record.absolute_at + life,
        absolute_at=record.absolute_at,
    )


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
    ``evicted`` lists handles removed by ``max_per_user``.  ``too_large``:
    a :class:`Patch` (or a carrying :class:`Create`) would have pushed its
    stored session past its ``max_bytes``, so nothing at all was applied.
    """

    ok: bool = True
    evicted: tuple[str, ...] = ()
    too_large: bool = False


APPLIED = ApplyResult()
