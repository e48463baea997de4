"""The values that cross the engine's edge: request facts in, decisions out.

Adapters build :class:`RequestFacts` from the protocol (ASGI scope, WSGI
environ); the engine answers with a :class:`Begin` before the load and a
:class:`Commit` after the app.  Plain data, so both sides and the tests can
build them without each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Event
from .records import Op

__all__ = ["Begin", "Commit", "Header", "RequestFacts"]

Header = tuple[str, str]


@dataclass(slots=True)
class RequestFacts:
    """What the engine needs to know about a request (built by the adapter).

    Not frozen on purpose: it is built on every request, and a frozen
    dataclass's ``__init__`` goes through ``object.__setattr__`` per field
    (about 2 us here against 0.4 us).  Treat it as read-only.
    """

    method: str = "GET"
    path: str = "/"
    query: str = ""
    cookie: str | None = None
    #: The client after trusted-proxy resolution (what events and counters use).
    client: str | None = None
    user_agent: str = ""
    #: The TCP peer (a proxy, when ``client`` came from forwarding headers).
    peer: str | None = None
    #: ``http``/``https`` (``ws``/``wss``) as the client used it, and its Host.
    scheme: str = "http"
    host: str = ""
    #: CSRF signals (CS-01): the ``Origin`` and ``Sec-Fetch-Site`` headers.
    origin: str | None = None
    sec_fetch_site: str | None = None


@dataclass(slots=True)
class Begin:
    """Outcome of :meth:`Engine.begin`.

    ``status`` set: answer it and stop.  ``key`` set: load that record.
    ``presented``: a session cookie came with the request (so the response
    varies on Cookie, and a dead one gets expired).  Not frozen, for the
    reason :class:`RequestFacts` gives (built on every request with a
    cookie); treat it as read-only.
    """

    status: int | None = None
    key: str | None = None
    presented: bool = False
    events: tuple[Event, ...] = ()


@dataclass(slots=True)
class Commit:
    """Outcome of :meth:`Engine.commit`: ops to apply, then :meth:`Engine.finish`.

    Not frozen, like :class:`Begin` (a write builds one per request); treat it
    as read-only.
    """

    ops: tuple[Op, ...] = ()
    headers: tuple[Header, ...] = ()
    failed: tuple[Header, ...] = ()
    events: tuple[Event, ...] = ()
    sets_cookie: bool = False
    handle: str | None = None
