"""Lazy sessions: the store is read on the session's first use, not on every request.

Many requests carry the session cookie and never look at the session
(static files, health checks, most API calls of a signed-in page).  Loading
eagerly costs each of them a store read; a :class:`LazySession` defers the
read until the app first touches the session, so an untouched request costs
no store call at all (RS-01, issue #16).

The engine still screens every request before the app runs (URL-borne IDs,
tossed, oversized and forged cookies are decided without the store); only
the load and :meth:`~sessionware.core.Engine.resume` wait.  A request whose
session was never loaded commits nothing except ``Vary: Cookie``: it did not
read the session, so it cannot have changed it, and nothing is touched.

Two ways to load:

* **WSGI** (always lazy): the adapter gives a blocking ``loader``; the first
  read or write of the session calls it, transparently.
* **ASGI** with ``load="lazy"``: a coroutine cannot run inside
  ``session["user"]``, so the app loads it first with
  ``await sessionware.load_session(request)`` (or through the FastAPI
  dependencies, which do it).  Touching it before that raises
  :class:`RuntimeError` naming both, instead of silently reading an empty
  session (which would look like a logged-out user).

Once loaded, the object *is* the resumed session (its state copied in, then
its class becomes :class:`Session`), so references taken earlier
(``flask.session``, ``request.session``) stay valid and cost nothing extra.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from operator import attrgetter
from typing import Any, TypeGuard, cast

from .session import Session

__all__ = ["Fresh", "LazySession", "lazy_type", "load_session", "unloaded"]

Loader = Callable[[], Session]
AsyncLoader = Callable[[], Awaitable[Session]]

NOT_LOADED = (
    "this session is loaded lazily (SessionMiddleware(load='lazy')) and has not been loaded: "
    "call `await sessionware.load_session(request)` first, or take it through the FastAPI "
    "dependencies of sessionware.integrations.fastapi (SessionDep, UserDep, require_user...)"
)


class _Unread:
    """The one entry an unloaded session holds (see :class:`LazySession`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<session not loaded>"


_UNREAD = _Unread()


class Fresh:
    """In place of a loader: the session is a new empty one, set up in place on first use.

    For a request without a session cookie (the adapters' fast path, issue
    #16) there is nothing to load: the unloaded object itself becomes the new
    session, so a cookie-less request that reads its session (an anonymous
    page checking for a user) builds one session object, not two.
    ``limit`` is the config's ``max_data_bytes``.
    """

    __slots__ = ("entry", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        #: The placeholder entry of every unloaded session this stands in for.
        self.entry = (self, None)

    def session(self, twin: type[LazySession]) -> LazySession:
        """A new unloaded session of class ``twin`` (LazySession or a lazy_type() twin).

        The same object ``twin(loader=self)`` builds, without the keyword call
        and its tuple: this runs for every request without a session cookie.
        """
        session = dict.__new__(twin)
        session.accessed = session.modified = False
        dict.__setitem__(session, _UNREAD, self.entry)  # type: ignore[misc]
        return session


class LazySession(Session):
    """A :class:`Session` that is read from the store on first use.

    ``loader`` (blocking) loads on the first touch; ``aloader`` is awaited by
    :meth:`aload`.  Loading turns the object into the resumed session itself:
    :meth:`_become` copies its state in, then the object's class
    becomes plain :class:`Session` (the layouts are identical: this class
    adds no slots), so a loaded session costs nothing extra and
    :func:`unloaded` tells "never loaded" (for every twin), which is how the
    adapters skip the commit of a session nobody touched.

    Until it loads, the underlying dict holds one entry, a placeholder key
    whose value is the loaders: C code that looks at a dict's size before
    calling its methods (``json.dumps`` does) then goes through :meth:`items`
    and loads, instead of finding an empty dict and writing ``{}``; code that
    reads the raw storage fails on the non-string key rather than seeing a
    wrong session.

    .. versionadded:: 0.2
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        loader: Loader | Fresh | None = None,
        aloader: AsyncLoader | None = None,
    ) -> None:
        # Session.__init__ is not run: the resumed session's state replaces it all
        # on load, and until then an attribute read that finds its slot unset loads
        # first (__getattr__).  Only Starlette's flags are readable unloaded.
        self.accessed = self.modified = False
        dict.__setitem__(self, _UNREAD, (loader, aloader))  # type: ignore[misc]

    def __getattr__(self, name: str) -> Any:
        """Called only for a slot not set yet: the session's state, so load it first."""
        if name.startswith("__"):
            raise AttributeError(name)
        self.load()
        return getattr(self, name)

    def load(self) -> None:
        """Read the session now on the blocking face."""
        loader, _ = dict.__getitem__(self, _UNREAD)  # type: ignore[misc]
        if type(loader) is Fresh:
            self._start(loader.limit)
        elif loader is None:
            raise RuntimeError(NOT_LOADED)
        else:
            self._become(loader())

    def _start(self, limit: int) -> None:
        """Be a new empty session of the class this one stands in for, in place."""
        base = type(self).__mro__[1]  # Session, or the class lazy_type() made a twin of
        dict.clear(self)
        # What Engine.resume does for a request that presented no session, on this
        # object (the class's own __init__, if any).
        base.__init__(self, limit=limit)  # type: ignore[misc]
        object.__setattr__(self, "__class__", base)

    async def aload(self) -> None:
        """Read the session now on the async face."""
        _, aloader = dict.__getitem__(self, _UNREAD)  # type: ignore[misc]
        if aloader is None:
            self.load()
        else:
            self._become(await aloader())

    def _become(self, resumed: Session) -> None:
        """Take ``resumed``'s data and every slot, then be a plain :class:`Session`.

        One tuple assignment, about five times a ``setattr`` loop; slots added
        to :class:`Session` later and not listed here are copied one by one.
        """
        (
            self._deleted,
            self._limit,
            self._size,
            self.accessed,
            self.assigned,
            self.intent,
            self.loaded_texts,
            self.modified,
            self.next_handle,
            self.pending_events,
            self.pending_login,
            self.presented,
            self.read_only,
            self.record,
            self.storage_key,
            self.store_unavailable,
        ) = _STATE(resumed)
        for name in _OTHER_SLOTS:
            setattr(self, name, getattr(resumed, name))
        dict.clear(self)
        dict.update(self, resumed)
        # The resumed session's own class (Session, or the app's subclass such as
        # Flask's): lazy_type() made ours a layout-compatible subclass of it.
        object.__setattr__(self, "__class__", type(resumed))

    # -- every way into the data loads first, then runs as a plain Session -------------
    # (after load() ``self`` is a Session, so each call below dispatches to Session's)

    def __getitem__(self, key: str) -> Any:
        self.load()
        return self[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.load()
        self[key] = value

    def __delitem__(self, key: str) -> None:
        self.load()
        del self[key]

    def __contains__(self, key: object) -> bool:
        self.load()
        return key in self

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(self)

    def __reversed__(self) -> Iterator[str]:
        self.load()
        return reversed(self)

    def __len__(self) -> int:
        self.load()
        return len(self)

    def __eq__(self, other: object) -> bool:
        self.load()
        return self == other

    def __ne__(self, other: object) -> bool:
        self.load()
        return self != other

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.load()
        return dict(dict.items(self)) | dict(other)

    def __ror__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.load()
        return dict(other) | dict(dict.items(self))

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        self.load()
        self.update(other)
        return self

    def get(self, key: str, default: Any = None) -> Any:
        self.load()
        return self.get(key, default)

    def keys(self) -> Any:
        self.load()
        return self.keys()

    def values(self) -> Any:
        self.load()
        return self.values()

    def items(self) -> Any:
        self.load()
        return self.items()

    def copy(self) -> dict[str, Any]:
        self.load()
        return dict(dict.items(self))

    def pop(self, key: str, *default: Any) -> Any:
        self.load()
        return self.pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.load()
        return self.popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.load()
        return self.setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.load()
        self.update(*args, **kwargs)

    def clear(self) -> None:
        self.load()
        self.clear()

    def mark_accessed(self) -> None:
        self.load()
        self.mark_accessed()

    def mark_modified(self) -> None:
        self.load()
        self.mark_modified()

    def login(self, user_id: str | int, *, remember: bool = False) -> None:
        self.load()
        self.login(user_id, remember=remember)

    def logout(self) -> None:
        self.load()
        self.logout()

    def regenerate(self) -> None:
        self.load()
        self.regenerate()

    def csrf_token(self) -> str:
        self.load()
        return self.csrf_token()

    def changes(self) -> tuple[dict[str, str], tuple[str, ...]]:
        self.load()
        return self.changes()

    def mutated(self) -> bool:
        self.load()
        return self.mutated()

    def encoded(self) -> dict[str, str]:
        self.load()
        return self.encoded()

    # -- the read-only facts come from the record, so they load too ------------------------

    @property
    def user_id(self) -> str | None:
        self.load()
        return self.user_id

    @property
    def is_new(self) -> bool:
        self.load()
        return self.is_new

    @property
    def created_at(self) -> float | None:
        self.load()
        return self.created_at

    @property
    def last_active(self) -> float | None:
        self.load()
        return self.last_active

    @property
    def auth_time(self) -> float | None:
        self.load()
        return self.auth_time

    @property
    def remember(self) -> bool:
        self.load()
        return self.remember

    @property
    def handle(self) -> str | None:
        self.load()
        return self.handle

    def __repr__(self) -> str:
        return "LazySession(<not loaded>)"


#: The slots :meth:`LazySession._become` assigns in one go, in its order.
_ADOPTED = (
    "_deleted",
    "_limit",
    "_size",
    "accessed",
    "assigned",
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
)
_STATE = attrgetter(*_ADOPTED)
_OTHER_SLOTS = tuple(name for name in Session.__slots__ if name not in _ADOPTED)


async def load_session(request: Any) -> Session:
    """The request's session, read from the store if it was not yet (``load="lazy"``).

    ``request`` is a Starlette/FastAPI ``Request`` or ``WebSocket`` (anything
    with a ``scope``) or the ASGI scope itself.  With eager loading (the
    default) the session is already there and is returned as it is, so code
    that calls this works under both settings.

    .. versionadded:: 0.2
    """
    scope = getattr(request, "scope", request)
    session = scope.get("session")
    if unloaded(session):
        await session.aload()
        return session
    if not isinstance(session, Session):
        raise RuntimeError("no session on this request: add sessionware.SessionMiddleware")
    return session


_LAZY_TYPES: dict[type[Session], type[LazySession]] = {Session: LazySession}
#: Instance attributes of a class body that a twin must not copy.
_NOT_COPIED = frozenset({"__dict__", "__weakref__", "__slots__", "__module__", "__qualname__"})


def lazy_type(base: type[Session]) -> type[LazySession]:
    """The lazy twin of a session class: it loads like :class:`LazySession`, then is ``base``.

    For ``Session`` it is :class:`LazySession` itself.  For a subclass (Flask's
    ``FlaskSession`` carries a ``__dict__`` from ``SessionMixin``) the twin is a
    direct subclass of ``base`` holding :class:`LazySession`'s methods and no
    slots of its own, so its instances have ``base``'s layout exactly and the
    class swap on load is allowed.  Twins are made once per class.
    """
    twin = _LAZY_TYPES.get(base)
    if twin is None:
        body = {k: v for k, v in vars(LazySession).items() if k not in _NOT_COPIED}
        # Not a LazySession subclass (that would change the layout), but it has
        # every LazySession method, which is what the adapters call.
        made = type(f"Lazy{base.__name__}", (base,), {**body, "__slots__": ()})
        twin = cast("type[LazySession]", made)
        _LAZY_TYPES[base] = twin
        _LAZY_CLASSES.add(twin)
    return twin


def unloaded(session: object) -> TypeGuard[LazySession]:
    """True for a lazy session that has not been read yet (any :func:`lazy_type` twin)."""
    return type(session) in _LAZY_CLASSES


_LAZY_CLASSES: set[type] = {LazySession}
