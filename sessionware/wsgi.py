"""WSGISessionMiddleware: the WSGI adapter (Flask's ``wsgi_app``, any WSGI callable).

The session lives at ``environ["sessionware.session"]``, read from the store
on its first access (:mod:`sessionware.lazy`).  The commit happens
when the app calls ``start_response``, so the headers ride on the app's own
response; the body iterable passes through and its ``close()`` is always
called (PEP 3333).  A failed write swaps the response for a short 503 and
closes the app's iterable without sending it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from .adapters import (
    BAD_REQUEST,
    TOO_LARGE,
    UNAVAILABLE,
    Refusal,
    Shared,
    build,
    merge_vary,
    store_event,
)
from .backends.base import Backend
from .config import SessionConfig
from .defences.client_address import ClientResolver
from .defences.csrf import UNSAFE_METHODS
from .errors import BackendError, SessionDataTooLarge
from .facts import Begin, Header, RequestFacts
from .lazy import Fresh, lazy_type, unloaded
from .records import APPLIED
from .session import Session

if TYPE_CHECKING:
    from .migration import Found
    from .tokens.service import TokenService
    from .tokens.transport import BearerGate

__all__ = ["ENVIRON_KEY", "WSGISessionMiddleware"]

ENVIRON_KEY = "sessionware.session"
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse: TypeAlias = Callable[..., Callable[[bytes], object]]
WSGIApp: TypeAlias = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

log = logging.getLogger("sessionware")


def facts_from_environ(environ: dict[str, Any], clients: ClientResolver) -> RequestFacts:
    get = environ.get
    peer = get("REMOTE_ADDR") or None
    scheme = get("wsgi.url_scheme", "http")
    host = get("HTTP_HOST") or _server_host(environ)
    if clients.active and peer is not None and clients.trusted(peer):
        client, scheme, host = clients.resolve(
            peer,
            scheme,
            host,
            get("HTTP_X_FORWARDED_FOR"),
            get("HTTP_FORWARDED"),
            get("HTTP_X_FORWARDED_PROTO"),
            get("HTTP_X_FORWARDED_HOST"),
        )
    else:
        client = peer
        forwarded = "HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ
        if forwarded and not clients.warned:
            clients.untrusted(peer)
    # Positional, in field order: keywords cost a third more on this per-request path.
    return RequestFacts(
        get("REQUEST_METHOD", "GET"),
        get("PATH_INFO", "/"),
        get("QUERY_STRING", ""),
        get("HTTP_COOKIE"),
        client,
        get("HTTP_USER_AGENT", ""),
        peer,
        scheme,
        host,
        get("HTTP_ORIGIN"),
        get("HTTP_SEC_FETCH_SITE"),
    )


def _server_host(environ: dict[str, Any]) -> str:
    name = environ.get("SERVER_NAME", "")
    port = str(environ.get("SERVER_PORT", ""))
    return f"{name}:{port}" if name and port else name


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return 500


class _Canned(NamedTuple):
    """A short reply that replaces the app's response: ``(status, body)`` and extra headers."""

    reply: tuple[int, bytes]
    extra: list[tuple[str, str]]


class _Body:
    """The app's iterable, replaced by ``override`` when the commit failed."""

    __slots__ = ("_inner", "override")

    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner
        self.override: bytes | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self.override is None:
            for chunk in self._inner:
                if self.override is not None:
                    break
                yield chunk
        if self.override is not None:
            yield self.override

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class WSGISessionMiddleware:
    """Server-side sessions for a WSGI app.

    ``app.wsgi_app = WSGISessionMiddleware(app.wsgi_app, secret_keys=[...])``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: WSGIApp,
        /,
        *,
        config: SessionConfig | None = None,
        backend: Backend | None = None,
        clock: Callable[[], float] | None = None,
        tokens: TokenService | None = None,
        transport: str | None = None,
        **config_fields: Any,
    ) -> None:
        self.app = app
        self.shared: Shared = build(config, backend, clock, config_fields)
        self.config = self.shared.config
        self.backend = self.shared.backend
        self.engine = self.shared.engine
        self._bearer: BearerGate | None = self.shared.bearer(tokens, transport)
        #: The fast path applies: no legacy cookies to screen and no bearer tokens.
        self._plain = self.shared.legacy is None and self._bearer is None
        self._cookie_name = self.config.cookie_name
        self._fresh = Fresh(self.config.max_data_bytes)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        shared, engine = self.shared, self.engine
        found = None
        session: Session
        if self._plain and _cookie_free(environ, self._cookie_name):
            # The fast path (issue #16): the engine would pass this request without a
            # look, so nothing is screened, resumed or built until the app touches the
            # session.  The facts are read at commit, from the environ as it came.
            facts: RequestFacts | None = None
            came = dict(environ)
            session = self._fresh.session(lazy_type(engine.session_type))
        else:
            came = environ
            facts = facts_from_environ(environ, shared.clients)
            legacy = shared.legacy
            if legacy is not None:
                facts, found = legacy.screen(facts)
            begin = engine.begin(facts)
            if begin.events:
                shared.report(begin.events, facts)
                if (refusal := shared.blocked(facts, begin)) is not None:
                    return _refuse(start_response, refusal)
            if begin.status is not None:
                return _reply(start_response, *BAD_REQUEST, [])
            if self._bearer is not None:  # token mode: Bearer requests skip the cookie path
                served = self._bearer.serve_wsgi(
                    environ, start_response, self.app, ENVIRON_KEY, facts.client
                )
                if served is not None:
                    return served
            resume = partial(self._resume, begin, facts)
            if begin.key is not None and found is None and _csrf_free(shared, facts):
                # Read on first access (issue #16): an untouched request costs no store call.
                session = lazy_type(engine.session_type)(loader=resume)
            else:
                session = resume()
                if (refusal := shared.forged(facts, session, legacy=found)) is not None:
                    return _refuse(start_response, refusal)
                if found is not None and legacy is not None:
                    session = legacy.adopt(found, session, shared.backend, engine.clock())
                    shared.report(found.events)
        environ[ENVIRON_KEY] = session
        body: _Body | None = None
        failure: list[bytes] = []
        started = False

        def wrapped_start(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal started
            if failure or unloaded(session):
                # A canned reply was sent; or the session was never read, so never used
                # or changed: nothing to commit, nothing touched, and no Vary (the
                # response does not depend on the session).
                started = True
                return start_response(status, headers, exc_info)
            at = facts if facts is not None else facts_from_environ(came, shared.clients)
            add = self._commit(at, session, found, status)
            if isinstance(add, _Canned):
                return self._fail(start_response, add.reply, add.extra, failure, body)
            if add:
                headers = _with_headers(headers, add)
            started = True
            return start_response(status, headers, exc_info)

        iterable = self.app(environ, wrapped_start)
        if started and not failure:
            # The commit is done and the response started: nothing can replace the
            # body any more, so the app's own iterable goes to the server unwrapped.
            return iterable
        body = _Body(iterable)
        if failure:
            body.override = failure[0]
        return body

    def _resume(self, begin: Begin, facts: RequestFacts) -> Session:
        """The load and resume of this request (run by the lazy session on first use)."""
        shared, record, unavailable, ending = self.shared, None, None, None
        if begin.key is not None:
            record, unavailable = shared.load(begin.key)
            if record is None and not unavailable and shared.tombstones:
                ending = shared.ending(begin.key)  # a dead cookie only
        resumed = self.engine.resume(begin, record, facts, unavailable=unavailable, ending=ending)
        if resumed.pending_events:
            shared.report(resumed.pending_events, facts)
            resumed.pending_events.clear()
        return resumed

    def _commit(
        self, facts: RequestFacts, session: Session, found: Found | None, status: str
    ) -> tuple[Header, ...] | _Canned:
        """The headers to add at ``start_response``, or the canned reply that replaces it."""
        shared, engine, legacy = self.shared, self.engine, self.shared.legacy
        if (refusal := shared.forged_login(facts, session)) is not None:
            return _Canned((refusal.status, refusal.body), [])
        try:
            commit = engine.commit(session, _status_code(status), facts)
        except SessionDataTooLarge as exc:
            log.error("session not saved: %s", exc)
            return _Canned(TOO_LARGE, [])
        result = APPLIED
        if commit.ops:
            commit = shared.admit(commit, facts)
            try:
                result = shared.backend.apply(commit.ops, engine.clock())
            except BackendError as exc:
                shared.report([store_event(exc, facts.client, shared.down(exc))])
                return _Canned(UNAVAILABLE, [("Retry-After", "2")])
            if result.too_large:  # the store's own cap (concurrent writers)
                log.error("session not saved: the stored session would pass max_data_bytes")
                return _Canned(TOO_LARGE, [])
        if commit.ops or commit.events:
            add, events = engine.finish(commit, result, facts)
            if events:
                shared.report(events)
        else:  # a read or an untouched session: finish() would add nothing
            add = commit.headers
        if found is not None and legacy is not None:
            add = legacy.with_headers(found, commit.sets_cookie, add)
        return add

    @staticmethod
    def _fail(
        start_response: StartResponse,
        reply: tuple[int, bytes],
        extra: list[tuple[str, str]],
        failure: list[bytes],
        body: _Body | None,
    ) -> Callable[[bytes], object]:
        status, text = reply
        failure.append(text)
        if body is not None:
            body.override = text
        _reply(start_response, status, text, extra)
        return lambda _chunk: None


def _with_headers(
    headers: list[tuple[str, str]], add: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    """The app's headers plus ours; ``Vary`` merged into the app's own, never doubled."""
    replace_cache = vary = False
    for name, _ in add:  # loops, not generators: this runs on every read
        if name == "vary":
            vary = True
        elif name == "cache-control":
            replace_cache = True
    out: list[tuple[str, str]] = []
    for k, v in headers:
        lower = k.lower()
        if vary and lower == "vary":
            v, vary = merge_vary(v), False
        elif replace_cache and lower == "cache-control":
            continue
        out.append((k, v))
    for k, v in add:
        if k != "vary" or vary:
            out.append((k, v))
    return out


def _cookie_free(environ: dict[str, Any], name: str) -> bool:
    """True when the engine would pass this request without a look.

    No session cookie (so nothing to verify or to find tossed, FX-05), no
    query string and no ``;`` path parameters (so no URL-borne ID, FX-01),
    and no forwarding header (resolved or reported with the facts).
    """
    if environ.get("QUERY_STRING") or ";" in environ.get("PATH_INFO", ""):
        return False
    if "HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ:
        return False
    cookie = environ.get("HTTP_COOKIE")
    return not cookie or name not in cookie


def _csrf_free(shared: Shared, facts: RequestFacts) -> bool:
    """True when no CSRF decision needs the session: then it may load lazily.

    The CSRF check refuses a cross-site unsafe request only when a live
    session exists, which takes the load; such requests load eagerly.
    """
    return shared.csrf is None or facts.method not in UNSAFE_METHODS


def _retry(refusal: Refusal) -> list[tuple[str, str]]:
    extra = [] if refusal.retry_after is None else [("Retry-After", str(refusal.retry_after))]
    return [*extra, *refusal.headers]


def _refuse(start_response: StartResponse, refusal: Refusal) -> list[bytes]:
    return _reply(start_response, refusal.status, refusal.body, _retry(refusal))


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _reply(
    start_response: StartResponse, status: int, body: bytes, extra: list[tuple[str, str]]
) -> list[bytes]:
    reason = _REASONS[status]
    start_response(
        f"{status} {reason}",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *extra,
        ],
    )
    return [body]
