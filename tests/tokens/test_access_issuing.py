"""What an issued access token is: its size budget, its JSON, its ``jti``, its key.

``max_token_bytes`` is a promise in both directions (docs/tokens.md): ``issue``
refuses a token the verifier would refuse, and accepts every one it would
not.  Claims count at their compact UTF-8 size, so the limit is about the
claims a service chose, not about formatting.
"""

from __future__ import annotations

import base64
import json
import math

import pytest

from sessionware.records import Record
from sessionware.tokens.access import AccessCodec
from sessionware.tokens.keys import KeySet, load_keys

from .conftest import AUDIENCE, ISSUER


def payload(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def codec(keys: KeySet) -> AccessCodec:
    return AccessCodec(keys, issuer=ISSUER, audience=AUDIENCE, leeway=5, max_bytes=4096)


def test_token_of_exactly_max_token_bytes_is_issued_and_verified(make_service) -> None:
    """The limit is inclusive on both sides: a token of exactly that length issues and verifies."""
    claims = {"pad": "x" * 400}
    length = len(make_service().issue("alice", claims=claims).access_token)
    exact = make_service(max_token_bytes=length)
    token = exact.issue("alice", claims=claims).access_token
    assert len(token) == length
    assert exact.verify(token).claims["pad"] == claims["pad"]
    with pytest.raises(ValueError, match="max_token_bytes"):
        make_service(max_token_bytes=length - 1).issue("alice", claims=claims)


def test_non_ascii_claims_count_at_their_utf8_size(service) -> None:
    """1000 "é" cost 2000 bytes, not 6000 as \\u escapes: they fit the default 4096 limit."""
    pair = service.issue("alice", claims={"name": "é" * 1000})
    assert len(pair.access_token) <= 4096
    assert service.verify(pair.access_token).claims["name"] == "é" * 1000


def test_claims_are_serialized_without_padding_whitespace(service) -> None:
    """A list of 1000 zeros fits the default limit: no ", " or ": " spends the budget."""
    pair = service.issue("alice", claims={"scores": [0] * 1000})
    assert service.verify(pair.access_token).claims["scores"] == [0] * 1000


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_codec_never_writes_non_json_numbers(ed_keys, value) -> None:
    """NaN and Infinity are not JSON (RFC 8259): other verifiers would reject the token."""
    with pytest.raises(ValueError):
        codec(load_keys({"k1": ed_keys[0]}, "EdDSA")).encode({"score": value})


def test_jti_is_128_random_bits(service) -> None:
    """Each token's jti is 16 random bytes, base64url: unique, and no bigger than needed."""
    first, second = (payload(service.issue("alice").access_token)["jti"] for _ in range(2))
    assert len(base64.urlsafe_b64decode(first + "==")) == 16
    assert len(first) == 22
    assert first != second


def test_record_without_auth_time_gets_the_issue_time(ed_keys) -> None:
    """A stored session that lost auth_time (older writer, nullable column) still mints a token.

    Its ``auth_time`` is then the issue time: the most recent a login can
    have been, never an invented earlier one.
    """
    now = 1_800_000_000.5
    record = Record(
        key="k",
        handle="h" * 32,
        created_at=now,
        last_active=now,
        expires_at=now + 60,
        absolute_at=now + 3600,
        user_id="alice",
        auth_time=None,
    )
    minter = codec(load_keys({"k1": ed_keys[0]}, "EdDSA"))
    token, expires_in = minter.mint(record, {}, now, 300)
    assert (payload(token)["auth_time"], expires_in) == (1_800_000_000, 300)
    assert minter.decode(token, now)["auth_time"] == 1_800_000_000


def test_codec_refuses_to_sign_with_a_short_hmac_key() -> None:
    """Even a KeySet built past load_keys's checks cannot sign HS256 with a 16-byte secret.

    A short HMAC key can be brute-forced offline from a single token, so the
    codec keeps PyJWT's minimum-length check as a hard error, a second line
    behind ``load_keys``.
    """
    jwt = pytest.importorskip("jwt")
    secret = b"0123456789abcdef"
    weak = KeySet(
        algorithm="HS256", signing_kid="k1", signing_key=secret, verify_keys={"k1": secret}
    )
    with pytest.raises(jwt.exceptions.InvalidKeyError):
        codec(weak).encode({"sub": "alice"})
