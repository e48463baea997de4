"""Legacy cookie migration: users of a signed-cookie session stay signed in.

Apps moving from Starlette's ``SessionMiddleware`` or Flask's default
session keep their whole session in a signed cookie (``session``).  With
``migrate_from="starlette"`` or ``"flask"`` and the old secret, a request that
carries such a cookie and no live sessionware session has the old data
copied into a fresh server-side session (a new ID and cookie are issued by the
normal commit), and the old cookie is expired in the same response.

Why it happens *once*: a signed cookie stays valid until its timestamp runs
out, so a copy stolen before the switch could otherwise be replayed to mint
new server-side sessions long after the user signed out.  Each migrated
cookie leaves a marker record in the store (key = SHA-256 of the old value,
inserted with ``Create``, which never overwrites), so the first request wins
and every later presentation of the same old cookie is refused and expired
(FX-02 in spirit: only sessions we issued are adopted).  The marker lives
until the old cookie would have expired.

Formats (read with itsdangerous, never with pickle):

* Starlette: ``base64(JSON)`` signed by ``itsdangerous.TimestampSigner`` with
  the secret as given (SHA-1, ``django-concat`` derivation, default salt);
* Flask: ``URLSafeTimedSerializer`` with salt ``"cookie-session"``, HMAC key
  derivation and SHA-1 (Flask's ``SecureCookieSessionInterface`` defaults),
  optionally zlib-compressed; Flask's tagged JSON (tuples, bytes, datetimes,
  UUIDs, Markup) is turned into plain JSON (lists, base64 text, ISO-8601 text,
  UUID text, text).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from werkzeug.http import dump_cookie

from .backends.base import Backend
from .config import SessionConfig
from .cookies import read_session_cookies
from .errors import BackendError, ConfigError, SessionDataTooLarge
from .events import Event
from .facts import RequestFacts
from .ids import new_handle
from .records import Create, Record
from .session import Session

__all__ = ["DEFAULT_MAX_AGE", "LegacyCookie", "Migrator", "decode_flask", "decode_starlette"]

log = logging.getLogger("sessionware")

Kind = Literal["starlette", "flask"]
Secret = str | bytes
Header = tuple[str, str]

#: The frameworks' own defaults: Starlette ``max_age`` (14 days) and Flask
#: ``PERMANENT_SESSION_LIFETIME`` (31 days), which both use as the signature age limit.
DEFAULT_MAX_AGE: dict[str, float] = {"starlette": 14 * 86400.0, "flask": 31 * 86400.0}
#: How long a marker is kept for a legacy cookie that carries no age limit.
_UNBOUNDED_MARKER = 400 * 86400.0
_MARKER_SALT = b"sessionware.legacy-cookie\x00"
_NO_STORE = ("cache-control", "no-store")


@dataclass(frozen=True, slots=True)
class LegacyCookie:
    """Where the old signed cookie lives and how to verify it.

    :param kind: ``"starlette"`` or ``"flask"``.
    :param secret: the old secret key, or several (newest first, like
        ``secret_keys``; Flask's ``SECRET_KEY_FALLBACKS`` go after it).
    :param cookie_name: the old cookie's name (both frameworks use ``session``).
    :param max_age: the old signature age limit in seconds; ``"default"`` takes
        the framework's default, None accepts any age (Starlette ``max_age=None``).
    :param path: / :param domain: the old cookie's Path and Domain, so the
        deletion matches it (Starlette ``path``/``domain``; Flask
        ``SESSION_COOKIE_PATH``/``SESSION_COOKIE_DOMAIN``).
    :param user_key: a data key holding the user's ID (e.g. Flask-Login's
        ``"_user_id"``); when present the migrated session is also logged in
        as that user, so it shows in ``list_sessions`` and ``revoke_user``.

    .. versionadded:: 0.1
    """

    kind: Kind
    secret: Secret | Sequence[Secret]
    cookie_name: str = "session"
    max_age: float | timedelta | Literal["default"] | None = "default"
    path: str = "/"
    domain: str | None = None
    user_key: str | None = None
    secrets: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    max_age_s: float | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_MAX_AGE:
            raise ConfigError(f"migrate_from must be 'starlette' or 'flask', got {self.kind!r}")
        raw = [self.secret] if isinstance(self.secret, str | bytes) else list(self.secret)
        keys = tuple(k.encode() if isinstance(k, str) else bytes(k) for k in raw)
        if not keys or not all(keys):
            raise ConfigError("legacy_secret is required to verify the old cookies")
        object.__setattr__(self, "secrets", keys)
        age = self.max_age
        if age == "default":
            seconds: float | None = DEFAULT_MAX_AGE[self.kind]
        elif age is None:
            seconds = None
        elif isinstance(age, timedelta):
            seconds = age.total_seconds()
        else:
            seconds = float(age)
        if seconds is not None and not seconds > 0:
            raise ConfigError(f"legacy max_age must be positive, got {age!r}")
        object.__setattr__(self, "max_age_s", seconds)


def decode_starlette(value: str, spec: LegacyCookie) -> tuple[dict[str, Any], float]:
    """``(data, signed_at)`` of a Starlette session cookie; raises ``BadSignature``."""
    last: BadSignature | None = None
    for secret in spec.secrets:
        # Starlette signs with TimestampSigner(str(secret_key)): default salt,
        # "django-concat" key derivation, SHA-1.
        signer = TimestampSigner(secret)
        try:
            payload, signed_at = signer.unsign(
                value.encode("latin-1"), max_age=_whole(spec.max_age_s), return_timestamp=True
            )
        except SignatureExpired:
            raise
        except BadSignature as exc:
            last = exc
            continue
        data = json.loads(base64.b64decode(payload, validate=True))
        if not isinstance(data, dict):
            raise BadSignature("the signed payload is not a JSON object")
        return data, signed_at.timestamp()
    raise last or BadSignature("no key")


def decode_flask(value: str, spec: LegacyCookie) -> tuple[dict[str, Any], float]:
    """``(data, signed_at)`` of a Flask session cookie; raises ``BadSignature``."""
    serializer = URLSafeTimedSerializer(
        list(reversed(spec.secrets)),  # itsdangerous wants the newest key last
        salt="cookie-session",
        serializer=json,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    data, signed_at = serializer.loads(value, max_age=_whole(spec.max_age_s), return_timestamp=True)
    data = _untag(data)
    if not isinstance(data, dict):
        raise BadSignature("the signed payload is not a JSON object")
    return data, signed_at.timestamp()


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else math.ceil(seconds)


def _untag(value: Any) -> Any:
    """Flask's tagged JSON (``{" t": [...]}``...) as plain JSON values."""
    if isinstance(value, list):
        return [_untag(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == " t":
            return [_untag(v) for v in inner]
        if tag == " di":
            ((key, item),) = inner.items()
            return {key[:-2]: _untag(item)}
        if tag == " b":
            return inner  # already base64 text
        if tag == " m":
            return str(inner)
        if tag == " u":
            return str(uuid.UUID(hex=inner))
        if tag == " d":
            return parsedate_to_datetime(inner).isoformat()
    return {k: _untag(v) for k, v in value.items()}


_DECODERS = {"starlette": decode_starlette, "flask": decode_flask}


@dataclass(slots=True)
class Found:
    """A legacy cookie seen on one request (mutable: the adapter fills it in)."""

    value: str
    client: str | None = None
    data: dict[str, Any] | None = None
    expires_at: float | None = None
    events: list[Event] = field(default_factory=list)
    delete: bool = True
    adopt: bool = False


class Migrator:
    """Finds, verifies, adopts and expires legacy cookies for one middleware.

    Pure apart from :meth:`adopt` / :meth:`aadopt`, which write the one-time
    marker on the backend face the adapter uses.
    """

    __slots__ = ("_decode", "_delete", "_same_name", "config", "spec")

    def __init__(self, spec: LegacyCookie, config: SessionConfig) -> None:
        self.spec = spec
        self.config = config
        self._decode = _DECODERS[spec.kind]
        self._same_name = spec.cookie_name == config.cookie_name
        self._delete: Header = (
            "set-cookie",
            dump_cookie(
                spec.cookie_name,
                "",
                max_age=0,
                expires=0,
                path=spec.path,
                domain=spec.domain,
                secure=bool(config.secure),
                httponly=True,
                samesite="Lax",
            ),
        )

    def screen(self, facts: RequestFacts) -> tuple[RequestFacts, Found | None]:
        """Pick the legacy cookie out of the request (cheap when there is none).

        When the old and new cookies share a name, a value that verifies as a
        legacy cookie is removed from the facts the engine sees, so it is not
        mistaken for a forged session ID.
        """
        header = facts.cookie
        name = self.spec.cookie_name
        if not header or name not in header:
            return facts, None
        values = read_session_cookies(header, name)
        if not values:
            return facts, None
        for raw in values:
            value = raw[1:-1] if len(raw) > 1 and raw[0] == raw[-1] == '"' else raw
            found = self._verify(value, facts)
            if found.data is not None:
                if self._same_name:
                    facts = replace(facts, cookie=_without(header, name, raw))
                return facts, found
        if self._same_name:
            return facts, None  # not a legacy cookie: the engine judges it as ours
        return facts, found

    def _verify(self, value: str, facts: RequestFacts) -> Found:
        found = Found(value, facts.client)
        detail = {"legacy": self.spec.kind}
        try:
            data, signed_at = self._decode(value, self.spec)
        except SignatureExpired:
            found.events.append(Event("expired", facts.client, detail=detail))
            return found
        except (BadSignature, ValueError, TypeError, UnicodeError):
            if not self._same_name:
                found.events.append(Event("bad_signature", facts.client, detail=detail))
            return found
        found.data = data
        age = self.spec.max_age_s
        found.expires_at = signed_at + (age if age is not None else _UNBOUNDED_MARKER)
        return found

    # -- adoption (the only I/O) ---------------------------------------------------

    def _prepare(self, found: Found, session: Session, now: float) -> Record | None:
        if found.data is None or session.read_only:
            return None
        if not session.is_new or session.modified or len(session) or session.store_unavailable:
            return None  # a live sessionware session wins; just drop the old cookie
        if not found.data:
            return None
        expires = max(found.expires_at or now, now + 1.0)
        digest = hashlib.sha256(_MARKER_SALT + found.value.encode("latin-1", "replace"))
        return Record(
            key=digest.hexdigest(),
            handle=new_handle(),
            created_at=now,
            last_active=now,
            expires_at=expires,
            absolute_at=expires,
            extra={"kind": "legacy-marker"},
        )

    def adopt(self, found: Found, session: Session, backend: Backend, now: float) -> None:
        """Copy the old data into ``session`` if this cookie was never migrated (sync face)."""
        marker = self._prepare(found, session, now)
        if marker is None:
            return
        try:
            result = backend.apply([Create(marker)], now)
        except BackendError:
            found.delete = False  # keep the old cookie: we may migrate it next time
            return
        self._fill(found, session, result.ok)

    async def aadopt(self, found: Found, session: Session, backend: Backend, now: float) -> None:
        """Copy the old data into ``session`` if this cookie was never migrated (async face)."""
        marker = self._prepare(found, session, now)
        if marker is None:
            return
        try:
            result = await backend.aapply([Create(marker)], now)
        except BackendError:
            found.delete = False
            return
        self._fill(found, session, result.ok)

    def _fill(self, found: Found, session: Session, first: bool) -> None:
        if not first:
            found.events.append(
                Event(
                    "unknown_id",
                    found.client,
                    detail={"legacy": self.spec.kind, "reason": "already migrated"},
                )
            )
            return
        data = found.data or {}
        try:
            session.update(data)
        except (SessionDataTooLarge, TypeError, ValueError) as exc:
            log.warning("legacy %s session not migrated: %s", self.spec.kind, exc)
            return
        found.adopt = True
        user = data.get(self.spec.user_key) if self.spec.user_key else None
        if isinstance(user, str | int) and not isinstance(user, bool) and str(user):
            session.login(user)

    def with_headers(
        self, found: Found, sets_cookie: bool, headers: tuple[Header, ...]
    ) -> tuple[Header, ...]:
        """``headers`` plus the deletion of the old cookie (placed first, so a new
        cookie of the same name wins), unless the new cookie replaces it anyway."""
        if not found.delete:
            return headers
        spec, cfg = self.spec, self.config
        if sets_cookie and self._same_name and spec.path == cfg.path and spec.domain == cfg.domain:
            return headers
        if any(name == "cache-control" for name, _ in headers):
            return (self._delete, *headers)
        return (self._delete, *headers, _NO_STORE)


def _without(header: str, name: str, raw: str) -> str:
    parts = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value.strip() == raw:
            continue
        parts.append(part.strip())
    return "; ".join(p for p in parts if p)


def migrator_from_fields(fields: dict[str, Any], config: SessionConfig) -> Migrator | None:
    """The migrator described by ``migrate_from`` / ``legacy_secret`` (already popped)."""
    source = fields.get("migrate_from")
    if source is None:
        if fields.get("legacy_secret") is not None:
            raise ConfigError("legacy_secret was given without migrate_from='starlette'|'flask'")
        return None
    if isinstance(source, LegacyCookie):
        if fields.get("legacy_secret") is not None:
            raise ConfigError("pass the secret inside LegacyCookie(...), not as legacy_secret")
        spec = source
    else:
        secret = fields.get("legacy_secret")
        if secret is None:
            raise ConfigError(
                f"migrate_from={source!r} needs legacy_secret= (the old framework's secret key)"
            )
        spec = LegacyCookie(kind=source, secret=secret)
    return Migrator(spec, config)
