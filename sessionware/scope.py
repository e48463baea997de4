"""Reading an ASGI scope: the request facts, and whether the engine needs them at all.

:func:`facts_from_scope` is what the ASGI adapter hands the engine;
:func:`cookie_free` is its fast path's test (issue #16): a request the engine
would pass without a look gets no facts until its session is used.  Plain
dicts and bytes, no framework: any ASGI server's scope works.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from .facts import RequestFacts

if TYPE_CHECKING:
    from .defences.client_address import ClientResolver

__all__ = ["cookie_free", "facts_from_scope"]

Scope = MutableMapping[str, Any]


#: Headers facts_from_scope keeps (one dict lookup per header; repeats are joined).
_WANTED = frozenset(
    {
        b"cookie",
        b"user-agent",
        b"host",
        b"origin",
        b"sec-fetch-site",
        b"x-forwarded-for",
        b"forwarded",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)


def facts_from_scope(scope: Scope, clients: ClientResolver) -> RequestFacts:
    """The engine's view of an ASGI request: one pass over the headers, then the facts.

    Forwarding headers are believed only from a trusted proxy (``clients``);
    from any other peer they are ignored and reported once.
    """
    seen: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if name in _WANTED:
            text = value.decode("latin-1")
            if name in seen:
                text = f"{seen[name]}{'; ' if name == b'cookie' else ', '}{text}"
            seen[name] = text
    client = scope.get("client")
    peer = client[0] if client else None
    scheme = scope.get("scheme", "http")
    host = seen.get(b"host", "")
    if clients.active and peer is not None and clients.trusted(peer):
        peer_client, scheme, host = clients.resolve(
            peer,
            scheme,
            host,
            seen.get(b"x-forwarded-for"),
            seen.get(b"forwarded"),
            seen.get(b"x-forwarded-proto"),
            seen.get(b"x-forwarded-host"),
        )
    else:
        peer_client = peer
        if not clients.warned and (b"x-forwarded-for" in seen or b"forwarded" in seen):
            clients.untrusted(peer)
    get = seen.get
    query = scope.get("query_string")
    # Positional, in field order: keywords cost a third more on this per-request path.
    return RequestFacts(
        scope.get("method", "GET"),
        scope.get("path", "/"),
        query.decode("latin-1") if query else "",
        get(b"cookie"),
        peer_client,
        get(b"user-agent", ""),
        peer,
        scheme,
        host,
        get(b"origin"),
        get(b"sec-fetch-site"),
    )


def cookie_free(scope: Scope, name: bytes) -> bool:
    """True when the engine would pass this request without a look.

    No cookie header carries our cookie's name (so :meth:`Engine.begin`
    has nothing to verify, FX-05's tossing included), no query string and
    no ``;`` path parameters (so no URL-borne ID to refuse, FX-01), and no
    forwarding header (whose client resolution or warning happens with the
    facts).  One pass over the headers, comparing bytes.
    """
    if scope.get("query_string") or ";" in scope.get("path", ""):
        return False
    for key, value in scope.get("headers", ()):
        if key in _SCREENED and (key != b"cookie" or name in value):
            return False
    return True


#: The headers :func:`cookie_free` looks at (one set lookup per header).
_SCREENED = frozenset({b"cookie", b"x-forwarded-for", b"forwarded"})
