"""Signing keys, algorithms and settings (TK-05, TK-01 at construction)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest

from sessionware.errors import ConfigError, InvalidToken
from sessionware.tokens.keys import generate_keypair


def test_tk05_hmac_key_shorter_than_256_bits_refused(make_service) -> None:
    """An HS256 key of fewer than 32 bytes is refused at construction."""
    with pytest.raises(ConfigError, match="at least 32"):
        make_service(algorithm="HS256", keys={"k1": secrets.token_bytes(31)})


def test_tk05_hs256_service_round_trip(make_service) -> None:
    """An HS256 service with a 256-bit random key issues, verifies and refreshes."""
    service = make_service(algorithm="HS256", keys={"k1": secrets.token_bytes(32)})
    pair = service.issue("alice")
    assert service.verify(service.refresh(pair.refresh_token).access_token).user_id == "alice"


def test_tk05_es256_service_round_trip(make_service, ec_keys) -> None:
    """An ES256 service with a P-256 key issues and verifies."""
    service = make_service(algorithm="ES256", keys={"k1": ec_keys[0]})
    assert service.verify(service.issue("alice").access_token).user_id == "alice"


def test_tk05_rotation_newest_signs_older_keys_verify(make_service, ed_keys) -> None:
    """After a rotation the new key signs, tokens signed by the old key still verify."""
    new_private, _ = generate_keypair()
    before = make_service(keys={"k1": ed_keys[0]}).issue("alice").access_token
    rotated = make_service(keys={"k2": new_private, "k1": ed_keys[0]})
    assert rotated.verify(before).user_id == "alice"
    after = rotated.issue("alice").access_token
    import jwt

    assert jwt.get_unverified_header(after)["kid"] == "k2"
    retired = make_service(keys={"k2": new_private})
    with pytest.raises(InvalidToken, match="unknown key"):
        retired.verify(before)
    assert retired.verify(after).user_id == "alice"


def test_tk05_public_only_keys_verify_but_cannot_issue(make_service, ed_keys) -> None:
    """A service given only public keys verifies tokens and refuses to issue."""
    issuer = make_service()
    verifier = make_service(keys={"k1": ed_keys[1]})
    assert verifier.verify(issuer.issue("alice").access_token).user_id == "alice"
    with pytest.raises(ConfigError, match="only public keys"):
        verifier.issue("alice")


@pytest.mark.parametrize(
    "algorithm,material,message",
    [
        pytest.param("EdDSA", "ES", "cannot be used with EdDSA", id="ec-key-on-eddsa"),
        pytest.param("ES256", "ED", "cannot be used with ES256", id="ed-key-on-es256"),
        pytest.param("EdDSA", "not a pem", "not an unencrypted PEM", id="garbage"),
        pytest.param("RS256", "ED", "algorithm must be one of", id="unsupported-alg"),
        pytest.param("none", "ED", "algorithm must be one of", id="alg-none"),
    ],
)
def test_tk01_each_key_fits_exactly_one_algorithm(
    make_service, ed_keys, ec_keys, algorithm, material, message
) -> None:
    """Keys of the wrong type for the configured algorithm are refused at construction."""
    key = {"ES": ec_keys[0], "ED": ed_keys[0]}.get(material, material)
    with pytest.raises(ConfigError, match=message):
        make_service(algorithm=algorithm, keys={"k1": key})


def test_es256_refuses_other_curves(make_service) -> None:
    """ES256 accepts P-256 keys only (RFC 7518 §3.4)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(ConfigError, match="P-256"):
        make_service(algorithm="ES256", keys={"k1": ec.generate_private_key(ec.SECP384R1())})


@pytest.mark.parametrize("kid", ["", "a b", "../../etc/passwd", "x" * 65, "k'1"])
def test_tk04_kid_values_are_sanitised_at_configuration(make_service, ed_keys, kid) -> None:
    """Configured kids are short and boring, so a kid is never an injection vector."""
    with pytest.raises(ConfigError, match="kid"):
        make_service(keys={kid: ed_keys[0]})


@pytest.mark.parametrize(
    "field,value",
    [
        ("issuer", ""),
        ("audience", None),
        ("refresh_idle_ttl", timedelta(days=100)),
        ("access_ttl", 0),
        ("leeway", 120),
        ("max_token_bytes", 100),
        ("revocation_cache_ttl", -1),
    ],
)
def test_settings_are_validated(make_service, field, value) -> None:
    """Every unsafe setting is a ConfigError naming the field."""
    with pytest.raises(ConfigError, match=field.split("_")[0]):
        make_service(**{field: value})


def test_keys_must_be_a_non_empty_mapping(make_service, ed_keys) -> None:
    """A bare key or an empty mapping is refused with a message that shows the expected shape."""
    for keys in ({}, [ed_keys[0]], ed_keys[0]):
        with pytest.raises(ConfigError, match="mapping of kid"):
            make_service(keys=keys)


def test_jwks_lists_every_public_key(make_service, ed_keys) -> None:
    """jwks() publishes the public half of each key with kid, alg and use, never a private part."""
    newer, _ = generate_keypair()
    jwks = make_service(keys={"k2": newer, "k1": ed_keys[0]}).jwks()
    assert [k["kid"] for k in jwks["keys"]] == ["k2", "k1"]
    assert all(k["alg"] == "EdDSA" and k["use"] == "sig" and "d" not in k for k in jwks["keys"])


def test_jwks_verifies_with_plain_pyjwt(make_service) -> None:
    """Another service can verify our tokens with PyJWT and the published JWKS alone."""
    import jwt

    service = make_service()
    token = service.issue("alice").access_token
    key = jwt.PyJWKSet.from_dict(service.jwks())["k1"]
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=service.audience)
    assert claims["sub"] == "alice"


def test_jwks_refused_for_hs256(make_service) -> None:
    """HS256 keys are secrets: asking for a JWKS is an error, not an empty set."""
    with pytest.raises(ConfigError, match="no public JWKS"):
        make_service(algorithm="HS256", keys={"k1": secrets.token_bytes(32)}).jwks()


def test_generate_keypair_es256_and_hs256() -> None:
    """generate_keypair makes PEM pairs for EdDSA/ES256 and explains HS256."""
    private, public = generate_keypair("ES256")
    assert "PRIVATE KEY" in private and "PUBLIC KEY" in public
    with pytest.raises(ValueError, match="token_bytes"):
        generate_keypair("HS256")


def test_reserved_claims_cannot_be_overridden(service) -> None:
    """Custom claims may not replace sub, sid, exp or any other registered claim."""
    for name in ("sub", "sid", "exp", "iss", "aud", "typ", "auth_time"):
        with pytest.raises(ValueError, match=name):
            service.issue("alice", claims={name: "x"})
    with pytest.raises(ValueError, match="JSON"):
        service.issue("alice", claims={"when": object()})


def test_user_ids_are_text_like_cookie_sessions(service) -> None:
    """An int user id becomes text (as with Session.login); empty or odd ones are refused."""
    assert service.verify(service.issue(42).access_token).user_id == "42"
    for bad in ("", None, True, 1.5):
        with pytest.raises(ValueError, match="user_id"):
            service.issue(bad)


def test_missing_extra_fails_at_use_not_import() -> None:
    """Without PyJWT, sessionware imports fine and TokenService names the extra to install."""
    code = (
        "import sys; sys.modules['jwt'] = None\n"
        "import sessionware, sessionware.tokens\n"
        "from sessionware.backends import MemoryBackend\n"
        "try:\n"
        "    sessionware.tokens.TokenService(MemoryBackend(), keys={'k': b'x' * 32},\n"
        "        algorithm='HS256', issuer='i', audience='a')\n"
        "except sessionware.MissingExtra as exc:\n"
        "    print(exc)\n"
    )
    import sessionware

    root = os.path.dirname(os.path.dirname(sessionware.__file__))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "sessionware[jwt]" in out.stdout
