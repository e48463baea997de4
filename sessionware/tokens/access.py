"""Access tokens: compact JWS with one pinned algorithm, checked strictly.

:meth:`AccessCodec.decode` runs its checks cheapest first, and every check
before the signature looks only at the shape and the header, never at a
claim (RFC 8725 §3.3, 8725bis; TK-02):

1. Shape, before any decoding (TK-02, TK-11): a ``str`` of at most
   ``max_bytes`` characters, only ``[A-Za-z0-9-_.]``, exactly three non-empty
   segments.  This alone refuses JWE (five segments), the JSON serialization
   (braces and quotes), padding, whitespace and unsigned ``alg: none`` tokens
   (empty third segment), and bounds the work an attacker can cause.
2. Header: ``alg`` must equal the configured algorithm, compared
   case-sensitively, so ``none``/``NoNe`` and HS256-on-an-EdDSA-service fail
   here (TK-01); ``typ`` must be ``at+jwt`` (RFC 9068, RFC 8725 §3.11); ``kid``
   picks among configured keys only, an unknown one fails with no lookup of
   any kind (TK-04); ``crit``/``b64`` are refused.  ``jku``, ``x5u``, ``jwk``
   and ``x5c`` are never read.
3. Signature: the PyJWT ``Algorithm`` object of the configured algorithm,
   fetched once at construction from a ``PyJWS(algorithms=[configured])``
   (never looked up from the header), with the key ``kid`` selected,
   prepared once.  Segments must be canonical base64url, so one token has
   exactly one spelling.  (We parse the three segments ourselves because
   step 1 already did PyJWS's per-character alphabet check, which costs
   about 100 us per token in PyJWT 2.15.)
4. Claims, only now: ``iss``, ``aud`` and ``typ`` must equal ours, ``exp``,
   ``nbf`` and ``iat`` are checked against the injected clock with a small
   leeway (TK-03), and ``sub``, ``sid``, ``jti``, ``auth_time`` must be present.

Refresh tokens (two segments, see :mod:`sessionware.tokens.refresh`) fail step
1, and access tokens fail the refresh parser, so neither is accepted for the
other (RFC 8725 §3.12).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, InvalidToken
from ..records import Record
from .keys import KeySet, require_jwt

__all__ = ["ACCESS_TYP", "RESERVED_CLAIMS", "AccessCodec"]

#: RFC 9068 §2.1 media type for JWT access tokens, in the header and as a claim.
ACCESS_TYP = "at+jwt"

#: Claims the service sets itself; callers cannot override them.
RESERVED_CLAIMS = frozenset(
    {"sub", "sid", "iat", "nbf", "exp", "jti", "iss", "aud", "auth_time", "typ"}
)

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: Header parameters tolerated.  The key-locating ones past ``kid`` are allowed
#: only so that they can be ignored: nothing here ever reads them (TK-04).
_HEADER_OK = frozenset({"alg", "typ", "kid", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"})


#: NumericDate claims above this are refused: they would overflow ``float()``
#: (found by the atheris harness, tests/fuzz/fuzz_tokens.py).  2**53 is the
#: largest int a float holds exactly, about 285 million years from now.
MAX_NUMERIC_DATE = 2**53


def _time(claims: dict[str, Any], name: str) -> int:
    """A NumericDate claim we issued: an int in ``[0, 2**53]``, never a bool or float."""
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken("missing claim")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise InvalidToken("claim out of range")
    return value


def _segment(text: str) -> bytes:
    """Decode one base64url segment (alphabet already checked); only the canonical form."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("malformed token") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode():
        raise InvalidToken("malformed token")
    return raw


class AccessCodec:
    """Signs and strictly verifies access tokens for one key set.

    :param max_bytes: longest token accepted; longer ones are refused
        before any base64 or JSON decoding (TK-11).
    """

    __slots__ = ("_alg", "_jws", "_verify", "audience", "issuer", "keys", "leeway", "max_bytes")

    def __init__(
        self, keys: KeySet, *, issuer: str, audience: str, leeway: float, max_bytes: int
    ) -> None:
        jwt = require_jwt()
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.max_bytes = max_bytes
        # A PyJWS that knows a single algorithm: a second, independent allow-list.
        self._jws = jwt.api_jws.PyJWS(
            algorithms=[keys.algorithm], options={"enforce_minimum_key_length": True}
        )
        self._alg = self._jws.get_algorithm_by_name(keys.algorithm)
        self._verify = {kid: self._alg.prepare_key(k) for kid, k in keys.verify_keys.items()}

    def encode(self, claims: dict[str, Any]) -> str:
        """Sign ``claims`` with the newest key; the header carries ``kid`` and ``typ``."""
        keys = self.keys
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        token: str = self._jws.encode(
            payload.encode(),
            keys.signing_key,
            algorithm=keys.algorithm,
            headers={"kid": keys.signing_kid, "typ": ACCESS_TYP},
        )
        return token

    def mint(
        self, record: Record, custom: Mapping[str, Any], now: float, ttl: int
    ) -> tuple[str, int]:
        """A new access token for the session ``record``: ``(token, expires_in)``.

        ``exp`` never passes the session's absolute end.  A token the verifier
        would refuse for its size is a ``ValueError`` here, at issue time.
        """
        if self.keys.signing_kid is None:
            # equivalent: wording of an operator-facing ConfigError (its type is tested)
            raise ConfigError(
                "this TokenService has only public keys: "  # pragma: no mutate
                "it can verify, not issue"  # pragma: no mutate
            )
        iat = int(now)
        exp = max(iat, min(iat + ttl, int(record.absolute_at)))
        auth_time = record.auth_time if record.auth_time is not None else now
        claims = {
            **custom,
            "iss": self.issuer,
            "aud": self.audience,
            "sub": record.user_id,
            "sid": record.handle,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "jti": secrets.token_urlsafe(16),
            "auth_time": int(auth_time),
            "typ": ACCESS_TYP,
        }
        token = self.encode(claims)
        if len(token) > self.max_bytes:
            raise ValueError(
                f"the access token would be {len(token)} bytes, above max_token_bytes="
                f"{self.max_bytes}: keep custom claims small"
            )
        return token, exp - iat

    def decode(self, token: object, now: float) -> dict[str, Any]:
        """The verified claims of ``token``, or :class:`InvalidToken` with a safe reason."""
        if not isinstance(token, str):
            raise InvalidToken("malformed token")
        if len(token) > self.max_bytes:
            raise InvalidToken("token too large")
        if not _COMPACT.fullmatch(token):
            raise InvalidToken("malformed token")
        head, body, sig = token.split(".")
        header = self._header(head)
        key = self._verify.get(header["kid"])
        if key is None:
            raise InvalidToken("unknown key")
        if not self._alg.verify(f"{head}.{body}".encode(), key, _segment(sig)):
            raise InvalidToken("bad signature")
        try:
            claims = json.loads(_segment(body))
        except (ValueError, RecursionError) as exc:
            raise InvalidToken("malformed token") from exc
        if not isinstance(claims, dict):
            raise InvalidToken("malformed token")
        self._check_claims(claims, now)
        return claims

    def _header(self, segment: str) -> dict[str, Any]:
        try:
            header = json.loads(_segment(segment))
        except (ValueError, RecursionError) as exc:
            raise InvalidToken("malformed token") from exc
        if not isinstance(header, dict):
            raise InvalidToken("malformed token")
        alg = header.get("alg")
        if alg != self.keys.algorithm:  # exact, case-sensitive (TK-01)
            raise InvalidToken("algorithm not allowed")
        if header.get("typ") != ACCESS_TYP:
            raise InvalidToken("wrong token type")
        if not isinstance(header.get("kid"), str):
            raise InvalidToken("unknown key")
        if not _HEADER_OK.issuperset(header):
            # crit, b64, zip, enc...: extensions we never produce change how the
            # token must be processed (RFC 7515 §4.1.11), so refuse them.
            raise InvalidToken("unsupported header")
        return header

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        if claims.get("typ") != ACCESS_TYP:
            raise InvalidToken("wrong token type")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("wrong issuer")
        if claims.get("aud") != self.audience:
            raise InvalidToken("wrong audience")
        exp, nbf, iat = _time(claims, "exp"), _time(claims, "nbf"), _time(claims, "iat")
        leeway = self.leeway
        if exp <= now - leeway:
            raise InvalidToken("token expired")
        if nbf > now + leeway or iat > now + leeway:
            raise InvalidToken("token not yet valid")
        for name in ("sub", "sid", "jti"):
            value = claims.get(name)
            if not isinstance(value, str) or not value:
                raise InvalidToken("missing claim")
        _time(claims, "auth_time")
