"""Access-token signing keys: loading, checking, publishing, generating.

A :class:`~sessionware.tokens.TokenService` signs with exactly one algorithm
and every configured key is checked against it once, at construction
(RFC 8725 §3.1: each key is used with exactly one algorithm).  That is what
makes algorithm confusion impossible later: an HS256 service holds only
random byte strings (never PEM text, so a public key cannot become an HMAC
secret), and an EdDSA/ES256 service holds only key objects of the matching
curve.

Keys come as a mapping ``kid -> material``, newest first: the first key
signs, all of them verify (TK-05), so a key can be rotated out by adding a
new one in front and dropping the old one once the longest-lived token it
signed has expired (``access_ttl``).

PyJWT and ``cryptography`` (the ``jwt`` extra) are imported here on first use
only; without them ``import sessionware`` still works and the first
:class:`TokenService` raises :class:`~sessionware.errors.MissingExtra`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

from ..errors import ConfigError, MissingExtra

__all__ = [
    "ALGORITHMS",
    "KeySet",
    "generate_keypair",
    "load_keys",
    "public_jwks",
    "require_jwt",
]

#: The algorithms a service may be configured with.  RSA is left out on
#: purpose: EdDSA is smaller and faster, ES256 covers FIPS-minded shops.
ALGORITHMS = ("EdDSA", "ES256", "HS256")

#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits).
MIN_HMAC_BYTES = 32

#: ``kid`` values are ours (configured), so we keep them boring: they travel
#: in every token header and are matched by exact string lookup only.
KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")

_ASYMMETRIC_MARKERS = (b"-----BEGIN", b"ssh-", b"ecdsa-sha2-")


def require_jwt() -> ModuleType:
    """The ``jwt`` module, or :class:`MissingExtra` naming the extra to install."""
    try:
        import jwt
        import jwt.algorithms
    except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
        raise MissingExtra("jwt", "PyJWT") from exc
    return jwt


def _require_crypto() -> None:
    require_jwt()
    try:
        import cryptography  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
        raise MissingExtra("jwt", "cryptography (PyJWT[crypto])") from exc


@dataclass(frozen=True, slots=True)
class KeySet:
    """The checked keys of one service.

    ``verify_keys`` holds ready-to-use verification material per ``kid``
    (public key objects, or bytes for HS256), so no PEM is parsed per request.
    ``signing_kid`` is None when the newest key is public-only (a service
    that can verify but not issue).
    """

    algorithm: str
    signing_kid: str | None
    signing_key: Any
    verify_keys: Mapping[str, Any]

    def __repr__(self) -> str:
        """Algorithm and key IDs only: key material never reaches logs or tracebacks."""
        return (
            f"KeySet(algorithm={self.algorithm!r}, signing_kid={self.signing_kid!r}, "
            f"kids={list(self.verify_keys)!r})"
        )

    __str__ = __repr__


def load_keys(keys: Mapping[str, Any], algorithm: str) -> KeySet:
    """Check and load ``keys`` for ``algorithm``; :class:`ConfigError` on any misfit."""
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}")
    if not isinstance(keys, Mapping) or not keys:
        raise ConfigError("keys must be a non-empty mapping of kid -> key material, newest first")
    require_jwt()
    if algorithm != "HS256":
        _require_crypto()
    verify: dict[str, Any] = {}
    signing_kid: str | None = None
    signing_key: Any = None
    for index, (kid, material) in enumerate(keys.items()):
        if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
            raise ConfigError(f"kid {kid!r} must be 1-64 characters of [A-Za-z0-9._-]")
        if algorithm == "HS256":
            private: Any = _hmac_key(kid, material)
            public: Any = private
        else:
            private, public = _asymmetric_key(kid, material, algorithm)
        verify[kid] = public
        if index == 0 and private is not None:
            signing_kid, signing_key = kid, private
    return KeySet(algorithm, signing_kid, signing_key, verify)


def _hmac_key(kid: str, material: Any) -> bytes:
    if isinstance(material, str):
        raise ConfigError(
            f"keys[{kid!r}]: an HS256 key must be bytes from a CSPRNG (secrets.token_bytes(32)), "
            "not text; a password is never an HMAC key (RFC 8725 §3.5)"
        )
    if not isinstance(material, bytes | bytearray):
        raise ConfigError(f"keys[{kid!r}]: an HS256 key must be bytes, got {type(material)!r}")
    key = bytes(material)
    if key.lstrip().startswith(_ASYMMETRIC_MARKERS):
        raise ConfigError(
            f"keys[{kid!r}] looks like a PEM/SSH key; an asymmetric key is never an HMAC secret "
            "(use algorithm='EdDSA' or 'ES256' for key pairs)"
        )
    if len(key) < MIN_HMAC_BYTES:
        raise ConfigError(
            f"keys[{kid!r}] is {len(key)} bytes; HS256 needs at least {MIN_HMAC_BYTES} random "
            "bytes (256 bits)"
        )
    return key


def _asymmetric_key(kid: str, material: Any, algorithm: str) -> tuple[Any, Any]:
    """``(private or None, public)`` for one EdDSA/ES256 key, type-checked."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_pem_public_key,
    )

    key: Any = material
    if isinstance(material, str):
        material = material.encode()
    if isinstance(material, bytes | bytearray):
        data = bytes(material)
        try:
            if b"PRIVATE KEY" in data:
                key = load_pem_private_key(data, password=None)
            else:
                key = load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"keys[{kid!r}] is not an unencrypted PEM private or public key: {exc}"
            ) from exc
    if algorithm == "EdDSA":
        private_types: tuple[type, ...] = (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
        public_types: tuple[type, ...] = (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
    else:
        private_types = (ec.EllipticCurvePrivateKey,)
        public_types = (ec.EllipticCurvePublicKey,)
    private: Any
    public: Any
    if isinstance(key, private_types):
        private, public = key, cast(Any, key).public_key()
    elif isinstance(key, public_types):
        private, public = None, key
    else:
        raise ConfigError(
            f"keys[{kid!r}] is a {type(key).__name__}, which cannot be used with {algorithm}"
        )
    if algorithm == "ES256" and not isinstance(public.curve, ec.SECP256R1):
        raise ConfigError(f"keys[{kid!r}]: ES256 needs a P-256 key, got {public.curve.name}")
    return private, public


def public_jwks(keyset: KeySet) -> dict[str, list[dict[str, str]]]:
    """RFC 7517 JWK Set of every verification key, for other services to verify with."""
    if keyset.algorithm == "HS256":
        raise ConfigError(
            "HS256 keys are shared secrets and have no public JWKS; "
            "use EdDSA or ES256 when other services must verify tokens"
        )
    jwt = require_jwt()
    if keyset.algorithm == "EdDSA":
        to_jwk = jwt.algorithms.OKPAlgorithm.to_jwk
    else:
        to_jwk = jwt.algorithms.ECAlgorithm.to_jwk
    out = []
    for kid, public in keyset.verify_keys.items():
        jwk = dict(to_jwk(public, as_dict=True))
        jwk.update(kid=kid, alg=keyset.algorithm, use="sig")
        out.append(jwk)
    return {"keys": out}


def generate_keypair(algorithm: str = "EdDSA") -> tuple[str, str]:
    """A new ``(private_pem, public_pem)`` pair for ``algorithm``.

    EdDSA gives an Ed25519 key, ES256 a P-256 key; the private half is
    unencrypted PKCS#8, so keep it in your secret store, not in the repo.
    HS256 has no key pair: use ``secrets.token_bytes(32)``.

    .. versionadded:: 0.1
    """
    if algorithm not in ("EdDSA", "ES256"):
        raise ValueError(
            f"generate_keypair supports 'EdDSA' and 'ES256', not {algorithm!r} "
            "(an HS256 key is just secrets.token_bytes(32))"
        )
    _require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode(), public_pem.decode()
