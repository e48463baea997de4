"""``session_of(request)``: the typed way to reach sessionware's session.

Starlette types ``request.session`` as ``dict[str, Any]``, so under
``mypy --strict`` ``request.session.login(...)`` is an error although the
object *is* a :class:`~sessionware.session.Session` at run time.  This
accessor returns it with its real type, from whatever the app holds:

- a Starlette / FastAPI ``Request`` or ``WebSocket`` (anything with ``.scope``),
- a WSGI request object with ``.environ`` (werkzeug, Flask's ``request``),
- or the raw ASGI scope / WSGI environ mapping.

It never creates a session: when sessionware's middleware did not run for
this request, that is a wiring mistake and it says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .session import Session

__all__ = ["session_of"]

#: Where the WSGI middleware puts the session in the environ.
WSGI_KEY = "sessionware.session"


class HasScope(Protocol):
    """An ASGI connection object (Starlette's ``Request``, ``WebSocket``)."""

    @property
    def scope(self) -> Mapping[str, Any]: ...


class HasEnviron(Protocol):
    """A WSGI request object (werkzeug's ``Request``, Flask's ``request``)."""

    @property
    def environ(self) -> Mapping[str, Any]: ...


def session_of(request: HasScope | HasEnviron | Mapping[str, Any]) -> Session:
    """This request's :class:`~sessionware.session.Session`, typed.

    ::

        from sessionware import session_of

        async def login(request: Request) -> Response:
            session = session_of(request)      # a Session, not dict[str, Any]
            session.login(user.id)

    :raises LookupError: sessionware's middleware is not installed in front
        of this app (or the object carries no request).

    .. versionadded:: 0.2
    """
    if isinstance(request, Mapping):
        holder: Mapping[str, Any] = request
    elif hasattr(request, "scope"):
        holder = request.scope
    elif hasattr(request, "environ"):
        holder = request.environ
    else:
        raise LookupError(f"{type(request).__name__} is not a request, ASGI scope or WSGI environ")
    session = holder.get("session")
    if not isinstance(session, Session):
        session = holder.get(WSGI_KEY)
    if not isinstance(session, Session):
        raise LookupError(
            "no sessionware session on this request: add sessionware.SessionMiddleware "
            "(ASGI) or WSGISessionMiddleware (WSGI) in front of the app"
        )
    return session
