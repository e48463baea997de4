"""Ready-made refresh endpoints: one ASGI app, one WSGI callable.

Both take ``POST`` with a JSON body ``{"refresh_token": "..."}`` and answer
with the new pair as JSON (RFC 6749 §5.1 shape) and ``Cache-Control:
no-store`` (the body holds credentials; RFC 6749 §5.1, OWASP).  Refusals are
small JSON errors, never a traceback:

=====  ==========================================================
400    not JSON, no ``refresh_token``, or a token in the URL
401    refused token (``invalid_grant``; reuse revokes the session)
403    cross-site: ``Sec-Fetch-Site: cross-site``, or an ``Origin`` that
       is neither the request's own nor in ``allowed_origins``
405    not ``POST``
411    (WSGI) no Content-Length on a server that needs one
413    body above ``max_body`` (default 8 KiB), refused unread
415    ``Content-Type`` is not ``application/json``
503    the store is down (the client should retry later)
=====  ==========================================================

Why 415 and 403.  A browser lets any page send a cross-site
``<form enctype="text/plain">`` POST without a preflight, but not a JSON
one; so only JSON is parsed, and a browser's cross-site request is refused
before the token is looked at.  Neither refusal reaches the token service,
so neither counts against the client in the guard (a third-party page
cannot get a visitor blocked through this endpoint).  An app on
``app.example`` calling ``api.example`` lists ``https://app.example`` in
``allowed_origins`` (``https://*.example`` works too).

A refresh token is read from the body only, never from the query string
(RFC 9700 §4.14, FX-01): a URL carrying one is answered 400 so the mistake
shows up in development instead of in proxy logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, TypeAlias
from urllib.parse import parse_qsl

from ..config import allowed_origin
from ..defences.csrf import CsrfPolicy
from ..defences.guard import PRESENTED
from ..errors import BackendError, ConfigError, TokenError
from ..facts import RequestFacts
from .service import TokenService
from .types import TokenPair

__all__ = ["RefreshEndpoint", "WSGIRefreshEndpoint", "refresh_endpoint", "wsgi_refresh_endpoint"]

logger = logging.getLogger("sessionware.tokens")

MAX_BODY = 8 * 1024
#: Request headers the ASGI endpoint reads.
_HEADERS = frozenset({b"content-length", b"content-type", b"origin", b"sec-fetch-site", b"host"})

Scope: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]
StartResponse: TypeAlias = Callable[..., Any]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    411: "Length Required",
    403: "Forbidden",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class _Reply:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        self.status = status
        self.body = json.dumps(payload, separators=(",", ":")).encode()
        self.headers = [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
            ("pragma", "no-cache"),
            ("content-length", str(len(self.body))),
        ]
        if status == 405:
            self.headers.append(("allow", "POST"))
        elif status == 401:
            self.headers.append(("www-authenticate", 'Bearer error="invalid_token"'))


def _error(status: int, code: str, description: str) -> _Reply:
    return _Reply(status, {"error": code, "error_description": description})


def _policy(allowed_origins: tuple[str, ...] | list[str]) -> CsrfPolicy:
    """The origin check of the endpoint, with ``allowed_origins`` validated like the config's."""
    if isinstance(allowed_origins, str):
        raise ConfigError("allowed_origins must be a list of origins, not one string")
    return CsrfPolicy([allowed_origin(origin) for origin in allowed_origins])


def _browser_check(
    policy: CsrfPolicy, headers: Mapping[str, str | None], scheme: str, host: str
) -> _Reply | None:
    """415 unless JSON, 403 when a browser says the request is cross-site."""
    media = (headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media != "application/json":
        return _error(415, "invalid_request", "send the body as application/json")
    facts = RequestFacts(
        method="POST",
        scheme=scheme,
        host=host,
        origin=headers.get("origin"),
        sec_fetch_site=headers.get("sec-fetch-site"),
    )
    if policy.check(facts) is not None:
        return _error(403, "invalid_request", "cross-site refresh refused")
    return None


def _precheck(method: str, query: str, length: int | None, max_body: int) -> _Reply | None:
    """Refusals decided from the request line and headers alone."""
    if method != "POST":
        return _error(405, "invalid_request", "use POST")
    if any(k.lower() == "refresh_token" for k, _ in parse_qsl(query, keep_blank_values=True)):
        return _error(400, "invalid_request", "send the refresh token in the body, never the URL")
    if length is not None and length > max_body:
        return _error(413, "invalid_request", "request body too large")
    return None


def _token_from(body: bytes) -> str | _Reply:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "invalid_request", "the body must be JSON")
    token = data.get("refresh_token") if isinstance(data, dict) else None
    if not isinstance(token, str):
        return _error(400, "invalid_request", "refresh_token is required")
    return token


def _outcome(pair: TokenPair | None, exc: Exception | None, wait: int = 0) -> _Reply:
    if pair is not None:
        return _Reply(200, pair.as_dict())
    if isinstance(exc, TokenError) and wait:
        # The guard blocked this client for presenting forged credentials (AN-01).
        reply = _error(429, "slow_down", "too many refused tokens; retry later")
        reply.headers.append(("retry-after", str(wait)))
        return reply
    if isinstance(exc, TokenError):
        return _error(401, "invalid_grant", exc.reason)
    logger.error("refresh endpoint: session store unavailable (%s)", type(exc).__name__)
    return _error(503, "temporarily_unavailable", "try again later")


def _length(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


class RefreshEndpoint:
    """ASGI refresh endpoint; mount it as ``Route(path, endpoint, methods=["POST"])``.

    It is a class instance (not a function) so that Starlette's ``Route``
    treats it as an ASGI app.
    """

    def __init__(
        self, service: TokenService, *, max_body: int = MAX_BODY, allowed_origins: Any = ()
    ) -> None:
        self.service = service
        self.max_body = max_body
        self._policy = _policy(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("the refresh endpoint serves HTTP only")
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name in _HEADERS:
                headers[name.decode("latin-1")] = value.decode("latin-1")
        length = _length(headers.get("content-length"))
        query = scope.get("query_string", b"").decode("latin-1")
        reply = _precheck(scope["method"], query, length, self.max_body)
        if reply is None:
            scheme = scope.get("scheme", "http")
            reply = _browser_check(self._policy, headers, scheme, headers.get("host", ""))
        if reply is None:
            body = await self._read(receive)
            token = _token_from(body) if body is not None else None
            if token is None:
                reply = _error(413, "invalid_request", "request body too large")
            elif isinstance(token, _Reply):
                reply = token
            else:
                reply = await self._refresh(token, scope.get("client"))
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode(), v.encode()) for k, v in reply.headers],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refresh(self, token: str, client: Any) -> _Reply:
        address = client[0] if client else None
        mark = PRESENTED.set(hash(token))  # one token repeated counts once (AN-01)
        try:
            pair = await self.service.arefresh(token, client=address)
        except (TokenError, BackendError) as exc:
            return _outcome(None, exc, self.service.retry_after(address))
        finally:
            PRESENTED.reset(mark)
        return _outcome(pair, None)


class WSGIRefreshEndpoint:
    """WSGI refresh endpoint (Flask: ``app.add_url_rule`` via a small view, or mount)."""

    def __init__(
        self, service: TokenService, *, max_body: int = MAX_BODY, allowed_origins: Any = ()
    ) -> None:
        self.service = service
        self.max_body = max_body
        self._policy = _policy(allowed_origins)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        reply = self._handle(environ)
        start_response(f"{reply.status} {_REASONS[reply.status]}", reply.headers)
        return [reply.body]

    def _handle(self, environ: dict[str, Any]) -> _Reply:
        length = _length(environ.get("CONTENT_LENGTH") or None)
        reply = _precheck(
            environ.get("REQUEST_METHOD", ""),
            environ.get("QUERY_STRING", ""),
            length,
            self.max_body,
        )
        if reply is None:
            headers = {
                "content-type": environ.get("CONTENT_TYPE", ""),
                "origin": environ.get("HTTP_ORIGIN"),
                "sec-fetch-site": environ.get("HTTP_SEC_FETCH_SITE"),
            }
            scheme = environ.get("wsgi.url_scheme", "http")
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
            reply = _browser_check(self._policy, headers, scheme, host)
        if reply is not None:
            return reply
        stream = environ["wsgi.input"]
        if length is None:
            if not environ.get("wsgi.input_terminated"):
                return _error(411, "invalid_request", "Content-Length is required")
            body = stream.read(self.max_body + 1)
            if len(body) > self.max_body:
                return _error(413, "invalid_request", "request body too large")
        else:
            body = stream.read(length)
        token = _token_from(body)
        if isinstance(token, _Reply):
            return token
        address = environ.get("REMOTE_ADDR")
        mark = PRESENTED.set(hash(token))  # one token repeated counts once (AN-01)
        try:
            pair = self.service.refresh(token, client=address)
        except (TokenError, BackendError) as exc:
            return _outcome(None, exc, self.service.retry_after(address))
        finally:
            PRESENTED.reset(mark)
        return _outcome(pair, None)


def refresh_endpoint(
    service: TokenService, *, max_body: int = MAX_BODY, allowed_origins: Any = ()
) -> RefreshEndpoint:
    """An ASGI app that refreshes token pairs for ``service`` (async backend face).

    :param allowed_origins: origins besides the endpoint's own whose pages
        may call it from a browser (``https://*.example.com`` allowed).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``allowed_origins``; JSON only (415), cross-site 403.
    """
    return RefreshEndpoint(service, max_body=max_body, allowed_origins=allowed_origins)


def wsgi_refresh_endpoint(
    service: TokenService, *, max_body: int = MAX_BODY, allowed_origins: Any = ()
) -> WSGIRefreshEndpoint:
    """A WSGI callable that refreshes token pairs for ``service`` (sync backend face).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``allowed_origins``; JSON only (415), cross-site 403.
    """
    return WSGIRefreshEndpoint(service, max_body=max_body, allowed_origins=allowed_origins)
