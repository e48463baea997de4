"""Exactly where access-token verification draws its lines, and what it says.

The refusal ``reason`` is public: it is the ``error_description`` of the 401
and ``detail["reason"]`` of the ``token_invalid`` event that dashboards count,
so each one is pinned here, next to the edges of every time and claim check.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionware.errors import InvalidToken

from .conftest import b64, header, segment, sign_ed, valid_claims

MAX_NUMERIC_DATE = 2**53


def refusal(service, token) -> str:
    with pytest.raises(InvalidToken) as info:
        service.verify(token)
    return info.value.reason


def sign_raw(private_pem: str, head: str, body: str) -> str:
    """A genuine Ed25519 signature over any two segments, JSON or not."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key: Any = load_pem_private_key(private_pem.encode(), password=None)
    return f"{head}.{body}.{b64(key.sign(f'{head}.{body}'.encode()))}"


def whole_second(clock) -> int:
    """Pin the fake clock to a whole second so a claim can sit exactly on a limit."""
    clock.now = float(int(clock()))
    return int(clock.now)


# -- the reason a client and the token_invalid event are given --------------------------


@pytest.mark.parametrize(
    "head,reason",
    [
        pytest.param(b64(b"not json"), "malformed token", id="header-not-json"),
        pytest.param(segment(["alg", "EdDSA"]), "malformed token", id="header-a-list"),
        pytest.param(segment(header(kid=7)), "unknown key", id="kid-a-number"),
        pytest.param(segment(header(kid=None)), "unknown key", id="kid-missing"),
    ],
)
def test_header_refusals_name_their_reason(service, events, ed_keys, clock, head, reason) -> None:
    """A broken header is refused before the signature, and says why, to client and metrics."""
    token = sign_raw(ed_keys[0], head, segment(valid_claims(clock())))
    assert refusal(service, token) == reason
    assert (events[-1].kind, events[-1].detail["reason"]) == ("token_invalid", reason)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b64(b"not json"), id="payload-not-json"),
        pytest.param(b64(b"[1,2]"), id="payload-a-list"),
        pytest.param(b64(b'"alice"'), id="payload-a-string"),
    ],
)
def test_signed_payload_that_is_not_a_claims_object_is_malformed(service, ed_keys, body) -> None:
    """Even with a genuine signature, a payload that is not a JSON object is "malformed token"."""
    token = sign_raw(ed_keys[0], segment(header()), body)
    assert refusal(service, token) == "malformed token"


# -- exp / nbf / iat against the clock, leeway included ---------------------------------


def test_token_expires_exactly_at_exp_plus_leeway(make_service, clock, ed_keys) -> None:
    """exp is exclusive: at exp + leeway the token is refused, one second earlier it is not."""
    service = make_service(leeway=5)
    now = whole_second(clock)
    on_the_line = sign_ed(ed_keys[0], header(), valid_claims(now, exp=now - 5))
    assert refusal(service, on_the_line) == "token expired"
    inside = sign_ed(ed_keys[0], header(), valid_claims(now, exp=now - 4))
    assert service.verify(inside).expires_at == now - 4


@pytest.mark.parametrize("name", ["nbf", "iat"])
def test_nbf_or_iat_alone_in_the_future_refuses(make_service, clock, ed_keys, name) -> None:
    """Either of nbf and iat beyond the leeway is enough; the other being fine does not save it."""
    service = make_service(leeway=5)
    now = whole_second(clock)
    token = sign_ed(ed_keys[0], header(), valid_claims(now, **{name: now + 6}))
    assert refusal(service, token) == "token not yet valid"


@pytest.mark.parametrize("name", ["nbf", "iat"])
def test_nbf_or_iat_exactly_leeway_ahead_is_accepted(make_service, clock, ed_keys, name) -> None:
    """A clock exactly ``leeway`` seconds behind the issuer still accepts its tokens."""
    service = make_service(leeway=5)
    now = whole_second(clock)
    token = sign_ed(ed_keys[0], header(), valid_claims(now, **{name: now + 5}))
    assert service.verify(token).claims[name] == now + 5


# -- NumericDate range ------------------------------------------------------------------


def test_numeric_dates_at_the_epoch_are_valid(service, clock, ed_keys) -> None:
    """0 is a real NumericDate (1970-01-01): nbf, iat and auth_time may all be 0."""
    claims = valid_claims(clock(), nbf=0, iat=0, auth_time=0)
    verified = service.verify(sign_ed(ed_keys[0], header(), claims))
    assert (verified.auth_time, verified.claims["iat"], verified.claims["nbf"]) == (0.0, 0, 0)


def test_largest_numeric_date_is_accepted_and_one_more_is_out_of_range(
    service, clock, ed_keys
) -> None:
    """exp up to 2**53 (exact as a float) verifies; 2**53 + 1 is "claim out of range"."""
    top = sign_ed(ed_keys[0], header(), valid_claims(clock(), exp=MAX_NUMERIC_DATE))
    assert service.verify(top).expires_at == float(MAX_NUMERIC_DATE)
    over = sign_ed(ed_keys[0], header(), valid_claims(clock(), exp=MAX_NUMERIC_DATE + 1))
    assert refusal(service, over) == "claim out of range"


@pytest.mark.parametrize("name", ["iat", "nbf", "auth_time"])
def test_negative_numeric_date_is_out_of_range(service, clock, ed_keys, name) -> None:
    """A date before 1970 is never one we issued: "claim out of range", not a crash."""
    token = sign_ed(ed_keys[0], header(), valid_claims(clock(), **{name: -1}))
    assert refusal(service, token) == "claim out of range"


# -- identity claims must be non-empty strings ------------------------------------------


@pytest.mark.parametrize("name", ["sub", "sid", "jti"])
@pytest.mark.parametrize("value", [123, ["alice"], {"id": 1}, ""], ids=repr)
def test_identity_claims_must_be_non_empty_strings(service, clock, ed_keys, name, value) -> None:
    """sub, sid and jti that are numbers, lists, objects or empty are "missing claim"."""
    token = sign_ed(ed_keys[0], header(), valid_claims(clock(), **{name: value}))
    assert refusal(service, token) == "missing claim"


# -- forged signatures ----------------------------------------------------------------


@pytest.mark.parametrize("size", [63, 64, 66])
def test_forged_signature_is_a_bad_signature_whatever_its_bytes(service, size) -> None:
    """A canonical signature segment that does not verify is "bad signature", never "malformed".

    The last byte 0x17 makes the base64url text end in "X" when the length
    is a multiple of 3: one more canonical spelling that must decode as such.
    """
    head, body, _ = service.issue("alice").access_token.split(".")
    forged = b64(bytes(size - 1) + b"\x17")
    assert refusal(service, f"{head}.{body}.{forged}") == "bad signature"
