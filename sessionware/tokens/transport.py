"""Bearer transport: the middleware side of token mode.

``SessionMiddleware(app, ..., tokens=service, transport=...)`` (and the WSGI
twin) hands requests that carry ``Authorization: Bearer <access token>`` to a
:class:`BearerGate` instead of the cookie engine:

- ``transport="cookie"``: no gate; bearer headers are ignored (the default
  when no ``tokens`` service is given).
- ``transport="both"`` (the default with ``tokens``): a Bearer header takes
  the token path, anything else the cookie path.  One request never uses
  both: a valid bearer token is not combined with a cookie session.
- ``transport="bearer"``: only tokens; a request without one gets an
  anonymous read-only :class:`TokenSession` and the app decides whether to
  answer 401.

A valid token gives the app a read-only :class:`TokenSession` (user, handle,
auth time, claims) at ``scope["session"]`` / ``environ["sessionware.session"]``;
verification touches no storage unless the service has ``check_revocation``.
An invalid one is answered right here with 401 and ``WWW-Authenticate: Bearer
error="invalid_token"`` (RFC 6750 §3.1) and a ``token_invalid`` event; the
app never runs; from a client the guard blocked for presenting forged
credentials, the refusal is a 429 with ``Retry-After`` instead (AN-01).  Two
Authorization headers are a 400 ``invalid_request``.  A store failure during
the revocation check is a 503 (fail closed, RS-05).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

from ..defences.guard import PRESENTED
from ..errors import BackendError, ConfigError, InvalidToken
from ..events import Event, EventSink, down_detail
from .access import RESERVED_CLAIMS

if TYPE_CHECKING:
    from .service import TokenService
    from .types import AccessClaims

__all__ = ["BearerGate", "TokenSession", "bearer_gate"]

Transport = Literal["cookie", "bearer", "both"]

_READ_ONLY = (
    "token sessions are read-only: their state is the signed access token. "
    "Change it by issuing new tokens (TokenService.issue after re-authentication) "
    "or end it with TokenService.revoke(session.handle)"
)


class TokenSession(dict[str, Any]):
    """The session of a bearer-token request: the token's custom claims, read-only.

    It quacks like :class:`~sessionware.session.Session` for reading
    (``user_id``, ``handle``, ``auth_time``, ``accessed``...), and every write
    raises a :class:`TypeError` that says how token state changes instead.
    ``claims`` is the whole verified payload.

    .. versionadded:: 0.1
    """

    __slots__ = ("_claims", "accessed", "modified")

    def __init__(self, verified: AccessClaims | None = None) -> None:
        claims = dict(verified.claims) if verified is not None else {}
        super().__init__((k, v) for k, v in claims.items() if k not in RESERVED_CLAIMS)
        self._claims = claims
        self.accessed = False
        self.modified = False

    @property
    def claims(self) -> dict[str, Any]:
        """Every verified claim (a copy)."""
        return dict(self._claims)

    @property
    def user_id(self) -> str | None:
        sub = self._claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def handle(self) -> str | None:
        sid = self._claims.get("sid")
        return sid if isinstance(sid, str) else None

    @property
    def auth_time(self) -> float | None:
        value = self._claims.get("auth_time")
        return float(value) if isinstance(value, int | float) else None

    @property
    def expires_at(self) -> float | None:
        value = self._claims.get("exp")
        return float(value) if isinstance(value, int | float) else None

    is_new = False
    created_at = None
    last_active = None
    transport = "bearer"

    @property
    def remember(self) -> bool:
        return self.user_id is not None

    def mark_accessed(self) -> None:
        self.accessed = True

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return dict.get(self, key, default)

    def _refuse(self, *_: Any, **__: Any) -> NoReturn:
        raise TypeError(_READ_ONLY)

    __setitem__ = __delitem__ = pop = popitem = setdefault = update = clear = _refuse
    __ior__ = login = logout = regenerate = mark_modified = _refuse

    def __repr__(self) -> str:
        return f"TokenSession(user_id={self.user_id!r}, handle={self.handle!r})"


class _Reply:
    """A refusal the gate answers itself (JSON, never cached)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, error: str, description: str, challenge: str | None) -> None:
        self.status = status
        self.body = json.dumps({"error": error, "error_description": description}).encode()
        self.headers = [
            ("content-type", "application/json"),
            ("content-length", str(len(self.body))),
            ("cache-control", "no-store"),
        ]
        if challenge is not None:
            self.headers.append(("www-authenticate", challenge))
        else:
            self.headers.append(("retry-after", "2"))


def _invalid(reason: str) -> _Reply:
    # Reasons are fixed ASCII phrases without quotes, safe inside the quoted-string.
    challenge = f'Bearer error="invalid_token", error_description="{reason}"'
    return _Reply(401, "invalid_token", reason, challenge)


_AMBIGUOUS = _Reply(
    400, "invalid_request", "more than one Authorization header", 'Bearer error="invalid_request"'
)
_DOWN = _Reply(503, "temporarily_unavailable", "session store unavailable", None)
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def _token(values: list[str]) -> str | _Reply | None:
    """The bearer token of a request, None if it has none, or a refusal."""
    if not values:
        return None
    if len(values) > 1:
        return _AMBIGUOUS
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":  # auth schemes are case-insensitive (RFC 9110 §11.1)
        return None
    return token.strip()


class BearerGate:
    """Verifies bearer tokens for one middleware instance."""

    __slots__ = ("_on_event", "_report", "blocked", "service", "transport")

    def __init__(
        self,
        service: TokenService,
        transport: Transport,
        report: Callable[[Iterable[Event]], None],
        on_event: EventSink | None,
    ) -> None:
        self.service = service
        self.transport = transport
        self._report = report
        self._on_event = on_event
        #: The guard's ``retry_after``: seconds a client is blocked (set by the middleware).
        self.blocked: Callable[[str | None], int] | None = None

    def _refused(self, exc: InvalidToken, client: str | None) -> _Reply:
        """401 for an invalid token; 429 when its client is blocked (forged credentials)."""
        wait = self.blocked(client) if self.blocked is not None else 0
        if not wait:
            return _invalid(exc.reason)
        reply = _Reply(429, "too_many_requests", "retry later", None)
        reply.headers[-1] = ("retry-after", str(wait))
        return reply

    def _decide(self, values: list[str]) -> str | _Reply | None:
        found = _token(values)
        if found is None and self.transport == "bearer":
            return ""  # anonymous token session
        return found

    async def serve_asgi(
        self, scope: Any, receive: Any, send: Any, app: Any, client: str | None = None
    ) -> bool:
        """Handle ``scope`` if it is a token request; False sends it down the cookie path.

        ``client`` is the address after trusted proxies (the peer when omitted).
        """
        values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"authorization"]
        found = self._decide(values)
        if found is None:
            return False
        if client is None:
            peer = scope.get("client")
            client = peer[0] if peer else None
        reply = found if isinstance(found, _Reply) else None
        session = TokenSession()
        if isinstance(found, str) and found:
            mark = PRESENTED.set(hash(found))  # one token repeated counts once (AN-01)
            try:
                session = TokenSession(
                    await self.service.averify(found, client=client, on_event=self._on_event)
                )
            except InvalidToken as exc:
                reply = self._refused(exc, client)
            except BackendError as exc:
                reply = self._down(client, exc)
            finally:
                PRESENTED.reset(mark)
        if reply is None:
            scope["session"] = session
            await app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            headers = [(k.encode(), v.encode()) for k, v in reply.headers]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})
        return True

    def serve_wsgi(
        self,
        environ: dict[str, Any],
        start_response: Any,
        app: Any,
        key: str,
        client: str | None = None,
    ) -> Iterable[bytes] | None:
        """WSGI twin of :meth:`serve_asgi`; None sends the request down the cookie path."""
        header = environ.get("HTTP_AUTHORIZATION")
        found = self._decide([header] if header is not None else [])
        if found is None:
            return None
        reply = found if isinstance(found, _Reply) else None
        session = TokenSession()
        if client is None:
            client = environ.get("REMOTE_ADDR")
        if isinstance(found, str) and found:
            mark = PRESENTED.set(hash(found))  # one token repeated counts once (AN-01)
            try:
                session = TokenSession(
                    self.service.verify(found, client=client, on_event=self._on_event)
                )
            except InvalidToken as exc:
                reply = self._refused(exc, client)
            except BackendError as exc:
                reply = self._down(client, exc)
            finally:
                PRESENTED.reset(mark)
        if reply is None:
            environ[key] = session
            result: Iterable[bytes] = app(environ, start_response)
            return result
        start_response(f"{reply.status} {_REASONS[reply.status]}", reply.headers)
        return [reply.body]

    def _down(self, client: str | None, exc: Exception) -> _Reply:
        self._report([Event("backend_down", client, detail=down_detail(exc, self.service.backend))])
        return _DOWN


def bearer_gate(
    tokens: TokenService | None,
    transport: str | None,
    report: Callable[[Iterable[Event]], None],
    on_event: EventSink | None,
) -> BearerGate | None:
    """The gate for a middleware's ``tokens``/``transport`` arguments, or None (cookies only)."""
    if transport is None:
        transport = "cookie" if tokens is None else "both"
    if transport not in ("cookie", "bearer", "both"):
        raise ConfigError(f"transport must be 'cookie', 'bearer' or 'both', got {transport!r}")
    if transport == "cookie":
        if tokens is not None:
            raise ConfigError("tokens= is unused with transport='cookie'; use 'bearer' or 'both'")
        return None
    if tokens is None:
        raise ConfigError(f"transport={transport!r} needs tokens=TokenService(...)")
    return BearerGate(tokens, cast(Transport, transport), report, on_event)
