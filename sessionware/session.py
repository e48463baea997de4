"""Session: the dict the app sees.

It keeps Starlette 1.x's contract (``accessed`` / ``modified`` flags,
``mark_accessed()`` / ``mark_modified()``), so ``request.session`` code runs
unchanged, and it records what the app *did* and *meant* without any I/O:
which keys were set or deleted, and intents (``login``, ``logout``,
``regenerate``).  The engine turns that record into backend ops at commit.

Values are JSON.  Each assignment is encoded once, right away: that is how an
oversized session fails at the offending line (:class:`SessionDataTooLarge`)
and how a non-JSON value fails where it was set, instead of at commit after
the response has started.  Nested mutation (``session["cart"].append(x)``)
is caught at commit by re-encoding mutable values and comparing them with the
text that was loaded or assigned.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from .errors import SessionDataTooLarge
from .ids import new_handle
from .records import Record, decode, encode, entry_size
from .tagged import tagged_decode, tagged_encode

if TYPE_CHECKING:
    from .endings import Ended
    from .events import Event

__all__ = ["CSRF_KEY", "Intent", "Session", "TaggedSession"]

Intent = Literal["login", "logout", "regenerate", "clear"]
_MUTABLE: tuple[type, ...] = (list, dict)
_EMPTY: Mapping[str, str] = {}
#: Where :meth:`Session.csrf_token` keeps the synchronizer token.
CSRF_KEY = "_csrf_token"


class Session(dict[str, Any]):
    """A dict of JSON values, with session intents.

    Besides the dict, the Starlette flags and the intent methods, a session
    carries the *seam* between what the app did and what the engine decides:
    plain attributes, set here or by the engine and adapters, never by the app.
    Reading them is how :mod:`sessionware.core` plans a commit; nothing else
    of a session is looked at from outside this module.

    * ``record``: the stored :class:`~sessionware.records.Record` this request
      resumed, or None (fresh, expired, revoked, unknown).
    * ``storage_key``: the storage key of the presented ID when its record
      must be purged although none was resumed (expired, binding revoke).
    * ``presented``: the request carried a cookie we verified (so a dead one
      gets a deletion cookie and the response varies on ``Cookie``).
    * ``store_unavailable``: the store could not be read for this request.
    * ``pending_events``: security events raised before the app ran, handed
      to the adapters' reporting and then cleared.
    * ``intent`` / ``pending_login``: what :meth:`login`, :meth:`logout`,
      :meth:`regenerate` or :meth:`clear` asked for, and login's arguments.
    * ``next_handle``: the handle the session minted by :meth:`login` (or
      :meth:`regenerate` of a fresh session) will be stored under, so
      :attr:`handle` is right before the commit.
    * ``assigned`` / ``loaded_texts``: JSON text of the keys assigned in this
      request and as loaded, for size checks (:meth:`changes` gives the patch).
    * ``read_only``: websocket sessions refuse writes.
    * ``ending``: set by the engine when the presented cookie's session has
      ended (an :class:`~sessionware.endings.Ended`); read through
      :attr:`end_reason`, :attr:`ended_at` and :attr:`ended_by`.
    * ``want_remember``: Flask's ``session.permanent`` asked for a remember-me
      session (True) or a browser-session one (False); None leaves it.

    .. versionadded:: 0.1
    """

    __slots__ = (
        "_deleted",
        "_limit",
        "_size",
        "accessed",
        "assigned",
        "ending",
        "intent",
        "loaded_texts",
        "modified",
        "next_handle",
        "pending_events",
        "pending_login",
        "presented",
        "read_only",
        "record",
        "storage_key",
        "store_unavailable",
        "want_remember",
    )

    #: How one value becomes stored text and back (JSON; :class:`TaggedSession`
    #: swaps in Flask's tagged JSON).  Static, so the hot path stays a call.
    encode_value = staticmethod(encode)
    decode_value = staticmethod(decode)

    def __init__(
        self,
        record: Record | None = None,
        *,
        limit: int = 64 * 1024,
        read_only: bool = False,
    ) -> None:
        raw = record.data if record is not None else _EMPTY
        if raw:
            dict.__init__(self, {name: self.decode_value(text) for name, text in raw.items()})
        self.accessed = False
        self.modified = False
        self.record: Record | None = record
        self.loaded_texts: Mapping[str, str] = raw
        self.assigned: dict[str, str] = {}
        self._deleted: set[str] = set()
        self._size = -1 if raw else 0  # measured on the first write (reads never need it)
        self._limit = limit
        self.intent: Intent | None = None
        self.pending_login: tuple[str, bool] | None = None
        self.next_handle: str | None = None
        self.read_only = read_only
        self.pending_events: list[Event] = []
        self.storage_key: str | None = record.key if record is not None else None
        self.presented = False
        self.store_unavailable = False
        self.ending: Ended | None = None
        #: Set by Flask's ``session.permanent``: make the session remember-me (or not).
        self.want_remember: bool | None = None

    # -- Starlette contract ------------------------------------------------------

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self._check_writable()
        self.accessed = True
        self.modified = True

    # -- reads mark the session accessed -------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return dict.get(self, key, default)

    def values(self) -> Any:
        self.accessed = True
        return dict.values(self)

    def items(self) -> Any:
        self.accessed = True
        return dict.items(self)

    # -- writes ------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            # equivalent: message text only (the TypeError itself is tested)
            raise TypeError(
                f"session keys must be str, not {type(key).__name__}"  # pragma: no mutate
            )
        self._check_writable()
        try:
            text = self.encode_value(value)
        except ValueError as exc:  # NaN, infinity, circular references
            # equivalent: message text only (the TypeError itself is tested)
            raise TypeError(
                f"session[{key!r}] is not JSON-serializable: {exc}"  # pragma: no mutate
            ) from exc
        old = self.assigned.get(key, self.loaded_texts.get(key)) if key in self else None
        size = self._measured() + entry_size(key, text)
        if old is not None:
            size -= entry_size(key, old)
        if size > self._limit:
            raise SessionDataTooLarge(size, self._limit, key)
        self.mark_modified()
        self._size = size
        self.assigned[key] = text
        self._deleted.discard(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self.mark_modified()
        dict.__delitem__(self, key)
        self._forget(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.mark_modified()
            value = dict.pop(self, key)
            self._forget(key)
            return value
        self.accessed = True
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.mark_modified()
        key, value = dict.popitem(self)
        self._forget(key)
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        self.accessed = True
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        """Empty the session and end it: the record is deleted, the cookie expired."""
        self.mark_modified()
        for key in list(self):
            dict.__delitem__(self, key)
            self._forget(key)
        self.intent = "clear"
        self.pending_login = None
        self.next_handle = None

    def _forget(self, key: str) -> None:
        text = self.assigned.pop(key, None)
        if text is None:
            text = self.loaded_texts.get(key)
        if text is not None:
            self._size = self._measured() - entry_size(key, text)
        if key in self.loaded_texts:
            self._deleted.add(key)

    def _measured(self) -> int:
        """The serialized size so far, computing it from the loaded data once."""
        if self._size < 0:
            self._size = sum(entry_size(k, v) for k, v in self.loaded_texts.items())
        return self._size

    def _check_writable(self) -> None:
        if self.read_only:
            # equivalent: message text only (tests match its "read-only" word)
            raise TypeError(
                "this session is read-only here "  # pragma: no mutate
                "(websocket connections cannot set cookies); "  # pragma: no mutate
                "change it from an HTTP request"  # pragma: no mutate
            )

    # -- intents -------------------------------------------------------------------

    def login(self, user_id: str | int, *, remember: bool = False) -> None:
        """Bind the session to ``user_id`` under a brand-new ID.

        The pre-login ID dies at commit (fixation defence, ASVS 4.0.3 3.2.1);
        data carries over; ``auth_time`` becomes now.  ``remember=True`` makes
        the cookie persistent with the longer remember-me limits.
        """
        self.mark_modified()
        if dict.__contains__(self, CSRF_KEY):
            del self[CSRF_KEY]
        self.intent = "login"
        self.pending_login = (str(user_id), remember)
        self.next_handle = new_handle()  # what `handle` reads from now on (a new session)

    def logout(self) -> None:
        """End the session: the server record is deleted and the cookie expired."""
        self.clear()
        self.intent = "logout"

    def regenerate(self) -> None:
        """Move the session to a new ID, keeping data, login and handle (privilege change).

        A session that was not stored yet gets its handle now, so
        :attr:`handle` names the record this request will create.
        """
        self.mark_modified()
        if self.intent is None:
            self.intent = "regenerate"
        if self.record is None and self.next_handle is None:
            self.next_handle = new_handle()

    def csrf_token(self) -> str:
        """This session's synchronizer token for forms and ``X-CSRF-Token`` (CS-01).

        Created on first use (which writes the session) and stable for the
        session's life; ``login()`` drops it, so a token known before
        authentication (a fixed or tossed session) is useless after it.
        Check it with :func:`sessionware.defences.csrf.verify_csrf`.

        .. versionadded:: 0.1
        """
        self.accessed = True
        token = dict.get(self, CSRF_KEY)
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            self[CSRF_KEY] = token
        return token

    # -- read-only facts -----------------------------------------------------------

    @property
    def user_id(self) -> str | None:
        """The logged-in user (after ``login()`` in this request: the new one).

        Reading it is reading the session: the response then varies on Cookie.
        """
        self.accessed = True
        if self.pending_login is not None:
            return self.pending_login[0]
        if self.intent in ("logout", "clear"):
            return None
        return self.record.user_id if self.record is not None else None

    @property
    def is_new(self) -> bool:
        """True when no stored session backed this request."""
        return self.record is None

    @property
    def created_at(self) -> float | None:
        return self.record.created_at if self.record is not None else None

    @property
    def last_active(self) -> float | None:
        return self.record.last_active if self.record is not None else None

    @property
    def auth_time(self) -> float | None:
        """When the user last authenticated (Unix time), for step-up checks."""
        self.accessed = True
        return self.record.auth_time if self.record is not None else None

    @property
    def remember(self) -> bool:
        if self.pending_login is not None:
            return self.pending_login[1]
        return self.record.remember if self.record is not None else False

    @property
    def end_reason(self) -> str | None:
        """Why the session this request's cookie named has ended, or None.

        One of ``"logout"``, ``"revoked"``, ``"evicted"``, ``"binding"``,
        ``"idle"``, ``"absolute"``, ``"rotated"``; None for a live or fresh
        session and for an ID the store never knew (or no longer remembers).

        .. versionadded:: 0.2
        """
        return None if self.ending is None else self.ending.reason

    @property
    def ended_at(self) -> float | None:
        """When it ended (Unix seconds); None if unknown (an idle expiry).

        .. versionadded:: 0.2
        """
        return None if self.ending is None else self.ending.at

    @property
    def ended_by(self) -> str | None:
        """Who revoked it: ``"user"``, ``"admin"``, the app's label, or
        ``"limit"``/``"capacity"`` for evictions; None otherwise.

        .. versionadded:: 0.2
        """
        return None if self.ending is None else self.ending.by

    @property
    def handle(self) -> str | None:
        """The public, non-secret identifier of the session, for listing and revoking.

        After :meth:`login` (or :meth:`regenerate` of a fresh session) it is
        already the handle of the session this request will store, so it can
        be logged or kept (``revoke_user(user, keep=session.handle)``) in the
        same request.  None for a session that is not stored and not about to be.
        """
        self.accessed = True
        if self.next_handle is not None:
            return self.next_handle
        return self.record.handle if self.record is not None else None

    # -- for the engine --------------------------------------------------------------

    def changes(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """``(set, deleted)`` since load, including nested mutations of mutable values."""
        changed = dict(self.assigned)
        if self.accessed or changed:
            for key, value in dict.items(self):
                if isinstance(value, _MUTABLE):
                    text = self.encode_value(value)
                    if text != changed.get(key, self.loaded_texts.get(key)):
                        changed[key] = text
        return changed, tuple(self._deleted)

    def mutated(self) -> bool:
        """True when a mutable value was changed in place since load."""
        raw = self.loaded_texts
        for key, value in dict.items(self):
            if (
                isinstance(value, _MUTABLE)
                and key not in self.assigned
                and self.encode_value(value) != raw.get(key)
            ):
                return True
        return False

    def encoded(self) -> dict[str, str]:
        """Every value as JSON text (for a new record)."""
        return {k: self.encode_value(v) for k, v in dict.items(self)}

    def __repr__(self) -> str:
        return f"Session({dict.__repr__(self)}, handle={self.handle!r}, user_id={self.user_id!r})"

    def __reduce__(self) -> Any:
        # equivalent: message text only (the TypeError itself is tested)
        raise TypeError(
            "sessions are not picklable; store JSON values in them instead"  # pragma: no mutate
        )


class TaggedSession(Session):
    """A session whose values use Flask's tagged JSON (``codec="tagged"``).

    Tuples, bytes, ``Markup``, UUIDs and datetimes round-trip as Flask's own
    serializer round-trips them (:mod:`sessionware.tagged`); stored text
    stays JSON.

    .. versionadded:: 0.2
    """

    __slots__ = ()
    encode_value = staticmethod(tagged_encode)
    decode_value = staticmethod(tagged_decode)
