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

Once loaded, the object *is* the resumed session (:meth:`Session.adopt`), so
references taken earlier (``flask.session``, ``request.session``) stay valid.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .session import Session

__all__ = ["LazySession", "load_session"]

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


class LazySession(Session):
    """A :class:`Session` that is read from the store on first use.

    ``loader`` (blocking) loads on the first touch; ``aloader`` is awaited by
    :meth:`aload`.  ``loaded`` says whether either has run; the adapters use
    it to skip the commit of a session nobody touched.

    Until it loads, the underlying dict holds one non-string placeholder
    entry: C code that looks at a dict's size before calling its methods
    (``json.dumps`` does) then goes through :meth:`items` and loads, instead
    of finding an empty dict and writing ``{}``; code that reads the raw
    storage fails on the non-string key rather than seeing a wrong session.

    .. versionadded:: 0.2
    """

    __slots__ = ("_aloader", "_loader", "loaded")

    def __init__(
        self,
        *,
        loader: Loader | None = None,
        aloader: AsyncLoader | None = None,
    ) -> None:
        # Session.__init__ is not run: the resumed session's state replaces it all
        # on load, and until then an attribute read that finds its slot unset loads
        # first (__getattr__).  Only Starlette's flags are readable unloaded.
        self._loader = loader
        self._aloader = aloader
        self.loaded = False
        self.accessed = self.modified = False
        dict.__setitem__(self, _UNREAD, None)  # type: ignore[misc]

    def __getattr__(self, name: str) -> Any:
        """Called only for a slot not set yet: the session's state, so load it first."""
        if self.loaded or name.startswith("__"):
            raise AttributeError(name)
        self.load()
        return getattr(self, name)

    def load(self) -> None:
        """Read the session now on the blocking face (no-op once loaded)."""
        if self.loaded:
            return
        if self._loader is None:
            raise RuntimeError(NOT_LOADED)
        self._become(self._loader())

    async def aload(self) -> None:
        """Read the session now on the async face (no-op once loaded)."""
        if self.loaded:
            return
        if self._aloader is None:
            self.load()
            return
        self._become(await self._aloader())

    def _become(self, resumed: Session) -> None:
        self.adopt(resumed)
        self.loaded = True
        self._loader = self._aloader = None

    # -- every way into the data loads first -------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self.load()
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.load()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.load()
        super().__delitem__(key)

    def __contains__(self, key: object) -> bool:
        self.load()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.load()
        return super().__iter__()

    def __reversed__(self) -> Iterator[str]:
        self.load()
        return super().__reversed__()

    def __len__(self) -> int:
        self.load()
        return super().__len__()

    def __eq__(self, other: object) -> bool:
        self.load()
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        self.load()
        return super().__ne__(other)

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.load()
        return dict(dict.items(self)) | dict(other)

    def __ror__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.load()
        return dict(other) | dict(dict.items(self))

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        self.load()
        return super().__ior__(other)

    def get(self, key: str, default: Any = None) -> Any:
        self.load()
        return super().get(key, default)

    def keys(self) -> Any:
        self.load()
        return super().keys()

    def values(self) -> Any:
        self.load()
        return super().values()

    def items(self) -> Any:
        self.load()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self.load()
        return dict(dict.items(self))

    def pop(self, key: str, *default: Any) -> Any:
        self.load()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.load()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.load()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.load()
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.load()
        super().clear()

    def mark_accessed(self) -> None:
        self.load()
        super().mark_accessed()

    def mark_modified(self) -> None:
        self.load()
        super().mark_modified()

    def login(self, user_id: str | int, *, remember: bool = False) -> None:
        self.load()
        super().login(user_id, remember=remember)

    def logout(self) -> None:
        self.load()
        super().logout()

    def regenerate(self) -> None:
        self.load()
        super().regenerate()

    def csrf_token(self) -> str:
        self.load()
        return super().csrf_token()

    # -- the read-only facts come from the record, so they load too ------------------------

    @property
    def user_id(self) -> str | None:
        self.load()
        return super().user_id

    @property
    def is_new(self) -> bool:
        self.load()
        return self.record is None

    @property
    def created_at(self) -> float | None:
        self.load()
        return super().created_at

    @property
    def last_active(self) -> float | None:
        self.load()
        return super().last_active

    @property
    def auth_time(self) -> float | None:
        self.load()
        return super().auth_time

    @property
    def remember(self) -> bool:
        self.load()
        return super().remember

    @property
    def handle(self) -> str | None:
        self.load()
        return super().handle

    # -- and so does what the engine reads at commit ---------------------------------------

    def changes(self) -> tuple[dict[str, str], tuple[str, ...]]:
        self.load()
        return super().changes()

    def mutated(self) -> bool:
        self.load()
        return super().mutated()

    def encoded(self) -> dict[str, str]:
        self.load()
        return super().encoded()

    def __repr__(self) -> str:
        if not self.loaded:
            return "LazySession(<not loaded>)"
        return super().__repr__()


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
    if type(session) is LazySession:
        if not session.loaded:
            await session.aload()
        return session
    if not isinstance(session, Session):
        raise RuntimeError("no session on this request: add sessionware.SessionMiddleware")
    return session
