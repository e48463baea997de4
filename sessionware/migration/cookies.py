"""Legacy signed cookies: where they live and how to verify them (never with pickle).

* Starlette: ``base64(JSON)`` signed by ``itsdangerous.TimestampSigner`` with
  the secret as given (SHA-1, ``django-concat`` derivation, default salt);
* Flask: ``URLSafeTimedSerializer`` with salt ``"cookie-session"``, HMAC key
  derivation and SHA-1 (Flask's ``SecureCookieSessionInterface`` defaults),
  optionally zlib-compressed; Flask's tagged JSON (tuples, bytes, datetimes,
  UUIDs, Markup) is turned into plain JSON (lists, base64 text, ISO-8601 text,
  UUID text, text), or kept as Flask's types for a tagged session
  (:func:`decode_flask_tagged`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..errors import ConfigError

__all__ = [
    "DEFAULT_MAX_AGE",
    "KINDS",
    "LegacyCookie",
    "decode_flask",
    "decode_flask_tagged",
    "decode_starlette",
]

Kind = Literal["starlette", "flask", "flask-session", "starsessions"]
Secret = str | bytes
#: Every ``migrate_from=`` source: two signed cookies, two server-side stores.
KINDS = ("starlette", "flask", "flask-session", "starsessions")

#: The frameworks' own defaults: Starlette ``max_age`` (14 days) and Flask
#: ``PERMANENT_SESSION_LIFETIME`` (31 days), which both use as the signature age limit.
DEFAULT_MAX_AGE: dict[str, float] = {
    "starlette": 14 * 86400.0,
    "flask": 31 * 86400.0,
    "flask-session": 31 * 86400.0,
    "starsessions": 14 * 86400.0,
}


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
    :param store: for ``"flask-session"`` / ``"starsessions"``, where the old
        sessions live (``FlaskSessionRedis``, ``FlaskSessionSQL``, ``StarsessionsRedis``).
    :param permanent: Flask-Session's ``SESSION_PERMANENT``.
    :param user_key: a data key holding the user's ID (e.g. Flask-Login's
        ``"_user_id"``); when present the migrated session is also logged in
        as that user, so it shows in ``list_sessions`` and ``revoke_user``.

    .. versionadded:: 0.1
    """

    kind: Kind
    secret: Secret | Sequence[Secret] = ()
    cookie_name: str = "session"
    max_age: float | timedelta | Literal["default"] | None = "default"
    path: str = "/"
    domain: str | None = None
    user_key: str | None = None
    #: Server-side kinds: the legacy store (:mod:`sessionware.migration.stores`).
    store: Any = None
    #: Whether a legacy session without its own flag is permanent (Flask-Session's
    #: ``SESSION_PERMANENT``, default True); starsessions says so per session.
    permanent: bool = True
    secrets: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    max_age_s: float | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_MAX_AGE:
            raise ConfigError(f"migrate_from must be one of {', '.join(KINDS)}; got {self.kind!r}")
        raw = [self.secret] if isinstance(self.secret, str | bytes) else list(self.secret)
        keys = tuple(k.encode() if isinstance(k, str) else bytes(k) for k in raw)
        if self.kind in ("starlette", "flask") and (not keys or not all(keys)):
            raise ConfigError("legacy_secret is required to verify the old cookies")
        if self.kind in ("flask-session", "starsessions") and self.store is None:
            raise ConfigError(
                f"migrate_from={self.kind!r} needs legacy_store= (where the old sessions live)"
            )
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


def decode_flask_tagged(value: str, spec: LegacyCookie) -> tuple[dict[str, Any], float]:
    """:func:`decode_flask` keeping Flask's types (for a tagged session: Flask apps)."""
    from ..tagged import untag

    serializer = URLSafeTimedSerializer(
        list(reversed(spec.secrets)),
        salt="cookie-session",
        serializer=json,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    data, signed_at = serializer.loads(value, max_age=_whole(spec.max_age_s), return_timestamp=True)
    data = untag(data)
    if not isinstance(data, dict):
        raise BadSignature("the signed payload is not a JSON object")
    return data, signed_at.timestamp()
