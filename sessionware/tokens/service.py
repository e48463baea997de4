"""Token mode: short-lived JWT access tokens and rotating refresh tokens.

Browsers get cookies; mobile apps and API clients get the *same* sessions as
tokens.  :meth:`TokenService.issue` creates an ordinary server-side session
record (same store, same per-user index, so ``list_sessions`` and
``revoke_user`` see token sessions next to cookie sessions) and returns:

- an **access token**: a JWT signed with one pinned algorithm, valid for
  ``access_ttl`` (5 min), verified without touching storage: the stateless,
  scalable path (TK-06).  Strict checks: :mod:`sessionware.tokens.access`.
- a **refresh token**: opaque, 256 random bits plus a locator, stored only
  hashed, single-use and rotated on every refresh with reuse detection
  (TK-07..TK-10).  Rules: :mod:`sessionware.tokens.refresh`.

Revocation (``revoke``, ``SessionManager.revoke_user``) deletes the record:
the refresh chain dies at once, access tokens within ``access_ttl``, or at
once with ``check_revocation=True``, which costs one backend lookup per
session handle per ``revocation_cache_ttl`` (1 s) per process.

Every stateful call has a sync twin for WSGI and an ``a``-prefixed async
twin for ASGI, each on the backend's matching face.  The pure steps between
the I/O are shared, so both faces make the same decisions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..backends.base import Backend
from ..config import Duration
from ..errors import BackendError, ConfigError, InvalidToken, TokenReused
from ..events import Event, EventSink, emit, logger
from ..records import ApplyResult, Create, Delete, Op, Record, encode
from .access import RESERVED_CLAIMS, AccessCodec
from .config import TokenSettings
from .keys import load_keys, public_jwks
from .refresh import RefreshToken, Verdict, judge, mint, new_session, parse, rotation
from .types import AccessClaims, LiveCache, TokenPair

__all__ = ["TokenService"]


def _notify(sink: EventSink, event: Event) -> None:
    """Hand ``event`` to one more observer (already logged); its failure is logged only."""
    try:
        sink(event)
    except Exception:
        logger.exception("on_event callback failed for %s", event.kind)


@dataclass(slots=True)
class _Step:
    """A refresh decided but not yet applied."""

    record: Record
    verdict: Verdict
    ops: list[Op]
    pair: TokenPair | None = None


class TokenService:
    """Issues, refreshes, verifies and revokes token sessions on ``backend``.

    :param keys: ``kid -> key``, newest first; the first signs, all verify.
        HS256 takes random ``bytes`` (at least 32); EdDSA and ES256 take PEM
        text/bytes or ``cryptography`` key objects (public-only keys verify).
    :param issuer: the ``iss`` of every token; required and checked.
    :param audience: the ``aud`` of every token; required and checked.
    :param reuse_grace: seconds (0-60) after a rotation during which the
        token rotated out may be presented again (it re-rotates, killing the
        token it replaces), e.g. after a lost response.  Default 0: strict.
    :param check_revocation: make :meth:`verify` confirm the session still
        exists (one cached backend lookup per handle and cache TTL).
    :param leeway: clock skew tolerated on ``exp``/``nbf``/``iat`` (0-60 s).
    :param max_token_bytes: longer access tokens are refused unread (TK-11).
    :param max_sessions_per_user: like ``SessionConfig.max_sessions_per_user``
        (default 100): a login beyond it evicts that user's oldest sessions,
        cookie and token sessions alike, atomically with the insert (TM-06).
        None: no limit.
    :param clock: returns Unix time; inject a fake one in tests.
    :param on_event: receives every token :class:`~sessionware.events.Event`.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        backend: Backend,
        *,
        keys: Mapping[str, Any],
        issuer: str,
        audience: str,
        algorithm: str = "EdDSA",
        access_ttl: Duration = 300,
        refresh_idle_ttl: Duration = timedelta(days=30),
        refresh_absolute_ttl: Duration = timedelta(days=90),
        reuse_grace: Duration = 0,
        check_revocation: bool = False,
        revocation_cache_ttl: Duration = 1.0,
        leeway: Duration = 5,
        max_token_bytes: int = 4096,
        max_sessions_per_user: int | None = 100,
        clock: Callable[[], float] = time.time,
        on_event: EventSink | None = None,
    ) -> None:
        settings = TokenSettings.build(
            issuer=issuer,
            audience=audience,
            access_ttl=access_ttl,
            refresh_idle_ttl=refresh_idle_ttl,
            refresh_absolute_ttl=refresh_absolute_ttl,
            reuse_grace=reuse_grace,
            check_revocation=check_revocation,
            revocation_cache_ttl=revocation_cache_ttl,
            leeway=leeway,
            max_token_bytes=max_token_bytes,
        )
        limit = max_sessions_per_user
        if limit is not None and (type(limit) is not int or limit < 1):
            raise ConfigError("max_sessions_per_user must be None or a positive integer")
        self.settings = settings
        #: Sessions one user may hold; a login past it evicts the oldest.
        self.max_sessions_per_user = max_sessions_per_user
        self.backend = backend
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.on_event = on_event
        self._clock = clock
        self._keys = load_keys(keys, algorithm)
        self._codec = AccessCodec(
            self._keys,
            issuer=issuer,
            audience=audience,
            leeway=settings.leeway,
            max_bytes=settings.max_token_bytes,
        )
        self._live = LiveCache(settings.revocation_cache_ttl)
        self._observers: list[EventSink] = []
        #: The guard's ``retry_after``, set by a middleware built with ``tokens=``.
        self.blocked: Callable[[str | None], int] | None = None

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set (EdDSA/ES256 only), to publish for other verifiers."""
        return public_jwks(self._keys)

    # -- issue -------------------------------------------------------------------

    def issue(
        self,
        user_id: str | int,
        *,
        claims: Mapping[str, Any] | None = None,
        info: Mapping[str, str] | None = None,
        client: str | None = None,
    ) -> TokenPair:
        """Log ``user_id`` in as a new token session and return its first pair.

        Call it after the user proved who they are (password, passkey...).
        ``claims`` are extra access-token claims (JSON values; the registered
        ones are reserved: ``ValueError``); ``info`` is stored for
        ``list_sessions`` (``{"ip": ..., "agent": ...}``, as ``SessionInfo`` reads them).
        """
        now = self._clock()
        record, pair = self._new_session(user_id, claims, info, now)
        create = Create(record, max_per_user=self.max_sessions_per_user)
        return self._issued(self.backend.apply([create], now), record, client, now, pair)

    async def aissue(
        self,
        user_id: str | int,
        *,
        claims: Mapping[str, Any] | None = None,
        info: Mapping[str, str] | None = None,
        client: str | None = None,
    ) -> TokenPair:
        """Async twin of :meth:`issue`."""
        now = self._clock()
        record, pair = self._new_session(user_id, claims, info, now)
        create = Create(record, max_per_user=self.max_sessions_per_user)
        result = await self.backend.aapply([create], now)
        return self._issued(result, record, client, now, pair)

    def _new_session(
        self,
        user_id: str | int,
        claims: Mapping[str, Any] | None,
        info: Mapping[str, str] | None,
        now: float,
    ) -> tuple[Record, TokenPair]:
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)  # like Session.login: the store and `sub` hold text
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string or an int")
        custom = dict(claims or {})
        clash = RESERVED_CLAIMS.intersection(custom)
        if clash:
            raise ValueError(f"claims {sorted(clash)} are set by the token service")
        try:
            claims_json = encode(custom)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"claims must be JSON values: {exc}") from exc
        info_ = dict(info or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in info_.items()):
            raise ValueError("info must map strings to strings")
        settings = self.settings
        record, token = new_session(
            user_id,
            claims_json,
            info_,
            now,
            idle=settings.refresh_idle_ttl,
            absolute=settings.refresh_absolute_ttl,
        )
        return record, self._pair(record, token, custom, now)

    def _issued(
        self, result: ApplyResult, record: Record, client: str | None, now: float, pair: TokenPair
    ) -> TokenPair:
        if not result.ok:
            raise BackendError("the token session could not be created")
        self._event("login", client, record, now)
        for handle in result.evicted:
            evicted = Event("evicted", client, handle, record.user_id, time=now)
            self._publish(evicted)
        return pair

    def _pair(
        self, record: Record, token: RefreshToken, custom: Mapping[str, Any], now: float
    ) -> TokenPair:
        access, expires_in = self._codec.mint(record, custom, now, self.settings.access_ttl)
        return TokenPair(access, token.text, expires_in, record.handle)

    # -- refresh -----------------------------------------------------------------

    def refresh(self, refresh_token: str, *, client: str | None = None) -> TokenPair:
        """Exchange a refresh token for a new pair; the presented token dies.

        Raises :class:`InvalidToken` (unknown, expired, revoked, lost a
        concurrent refresh) or :class:`TokenReused` (an already-rotated token:
        the session is revoked, TK-08).
        """
        now = self._clock()
        parsed = self._parse_refresh(refresh_token, client, now)
        record = self.backend.load_handle(parsed.handle, now)
        step = self._plan_refresh(parsed, record, client, now)
        return self._settle(step, self.backend.apply(step.ops, now), client, now)

    async def arefresh(self, refresh_token: str, *, client: str | None = None) -> TokenPair:
        """Async twin of :meth:`refresh`."""
        now = self._clock()
        parsed = self._parse_refresh(refresh_token, client, now)
        record = await self.backend.aload_handle(parsed.handle, now)
        step = self._plan_refresh(parsed, record, client, now)
        return self._settle(step, await self.backend.aapply(step.ops, now), client, now)

    def _parse_refresh(self, token: object, client: str | None, now: float) -> RefreshToken:
        parsed = parse(token)
        if parsed is None:
            raise self._refused("malformed refresh token", client, now)
        return parsed

    def _plan_refresh(
        self, parsed: RefreshToken, record: Record | None, client: str | None, now: float
    ) -> _Step:
        if record is None:
            raise self._refused("unknown, expired or revoked refresh token", client, now)
        try:
            verdict = judge(parsed, record.extra, now, self.settings.reuse_grace)
        except InvalidToken as exc:
            raise self._refused(exc.reason, client, now) from None
        if verdict is Verdict.REUSE:
            return _Step(record, verdict, [Delete(record.key)])
        new = mint(parsed.handle, parsed.family)
        patch = rotation(record, verdict, new, now, self.settings.refresh_idle_ttl)
        claims = json.loads(record.extra.get("claims") or "{}")
        pair = self._pair(record, new, claims, now)
        return _Step(record, verdict, [patch], pair)

    def _settle(
        self, step: _Step, result: ApplyResult, client: str | None, now: float
    ) -> TokenPair:
        record = step.record
        if step.verdict is Verdict.REUSE:
            self._live.put(record.handle, False, now)
            self._event("token_reuse", client, record, now, action="session revoked")
            raise TokenReused("refresh token reuse detected: the session was revoked")
        if not result.ok or step.pair is None:
            raise self._refused("refresh token already used", client, now, record)
        self._event("refreshed", client, record, now, grace=step.verdict is Verdict.GRACE)
        return step.pair

    # -- revoke ------------------------------------------------------------------

    def revoke(self, handle: str, *, client: str | None = None) -> bool:
        """Delete the session ``handle``: its refresh chain dies at once.

        Access tokens already issued stay valid until they expire, unless
        ``check_revocation`` is on.  Returns False when nothing was live.
        """
        now = self._clock()
        record = self.backend.load_handle(handle, now) if isinstance(handle, str) else None
        if record is not None:
            self.backend.apply([Delete(record.key)], now)
        return self._revoked(record, client, now)

    async def arevoke(self, handle: str, *, client: str | None = None) -> bool:
        """Async twin of :meth:`revoke`."""
        now = self._clock()
        record = await self.backend.aload_handle(handle, now) if isinstance(handle, str) else None
        if record is not None:
            await self.backend.aapply([Delete(record.key)], now)
        return self._revoked(record, client, now)

    def _revoked(self, record: Record | None, client: str | None, now: float) -> bool:
        if record is None:
            return False
        self._live.put(record.handle, False, now)
        self._event("revoked", client, record, now)
        return True

    # -- verify ------------------------------------------------------------------

    def verify(
        self, access_token: str, *, client: str | None = None, on_event: EventSink | None = None
    ) -> AccessClaims:
        """The claims of a valid access token, or :class:`InvalidToken`.

        Pure (no I/O) unless ``check_revocation`` is on; then it reads the
        backend's sync face, so ASGI code should call :meth:`averify`.  A
        refusal is a ``token_invalid`` event, sent to the service's
        ``on_event`` and to this call's ``on_event`` (the middleware's).
        """
        now = self._clock()
        claims = self._decode(access_token, client, now, on_event)
        if self.settings.check_revocation:
            alive = self._live.get(claims.handle, now)
            if alive is None:
                alive = self._alive(claims, self.backend.load_handle(claims.handle, now), now)
            if not alive:
                raise self._refused("session revoked", client, now, claims, "access", on_event)
        return claims

    async def averify(
        self, access_token: str, *, client: str | None = None, on_event: EventSink | None = None
    ) -> AccessClaims:
        """Async twin of :meth:`verify` (the revocation check uses the async face)."""
        now = self._clock()
        claims = self._decode(access_token, client, now, on_event)
        if self.settings.check_revocation:
            alive = self._live.get(claims.handle, now)
            if alive is None:
                record = await self.backend.aload_handle(claims.handle, now)
                alive = self._alive(claims, record, now)
            if not alive:
                raise self._refused("session revoked", client, now, claims, "access", on_event)
        return claims

    def _decode(
        self, token: object, client: str | None, now: float, sink: EventSink | None
    ) -> AccessClaims:
        try:
            claims = self._codec.decode(token, now)
        except InvalidToken as exc:
            raise self._refused(exc.reason, client, now, None, "access", sink) from None
        return AccessClaims(
            user_id=claims["sub"],
            handle=claims["sid"],
            auth_time=float(claims["auth_time"]),
            expires_at=float(claims["exp"]),
            claims=claims,
        )

    def _alive(self, claims: AccessClaims, record: Record | None, now: float) -> bool:
        alive = record is not None and record.user_id == claims.user_id
        self._live.put(claims.handle, alive, now)
        return alive

    # -- events ------------------------------------------------------------------

    def retry_after(self, client: str | None) -> int:
        """Seconds a middleware's guard blocks ``client`` (refused refreshes get 429), else 0."""
        return self.blocked(client) if self.blocked is not None else 0

    def add_observer(self, sink: EventSink) -> None:
        """Also hand every token event to ``sink`` (a middleware's guard, metrics).

        A middleware built with ``tokens=`` registers its guard here, so refresh
        tokens refused or reused at the refresh endpoint count against the
        client like bad cookies do (AN-01).
        """
        self._observers.append(sink)

    def _publish(self, event: Event) -> None:
        emit(event, self.on_event)
        for sink in self._observers:
            _notify(sink, event)

    def _event(
        self, kind: str, client: str | None, record: Record, now: float, **detail: Any
    ) -> None:
        detail["via"] = "token"
        event = Event(
            kind,
            client=client,
            handle=record.handle,
            user_id=record.user_id,
            detail=detail,
            time=now,
        )
        self._publish(event)

    def _refused(
        self,
        reason: str,
        client: str | None,
        now: float,
        owner: Record | AccessClaims | None = None,
        kind: str = "refresh",
        sink: EventSink | None = None,
    ) -> InvalidToken:
        """A ``token_invalid`` event (AN-02) and the error to raise.

        The handle is named only once the token was verified (``owner``):
        an unverified token's claims are the attacker's words.
        """
        event = Event(
            "token_invalid",
            client=client,
            handle=owner.handle if owner is not None else None,
            user_id=owner.user_id if owner is not None else None,
            detail={"reason": reason, "token": kind},
            time=now,
        )
        self._publish(event)
        if sink is not None and sink is not self.on_event:
            _notify(sink, event)
        return InvalidToken(reason)

