"""Access-token verification against crafted tokens (TK-01..TK-04, TK-11)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from sessionware.errors import InvalidToken
from sessionware.testing import CountingBackend
from sessionware.tokens.keys import generate_keypair

from .conftest import header, segment, sign_ed, sign_hs, valid_claims


def refused(service, token) -> str:
    with pytest.raises(InvalidToken) as info:
        service.verify(token)
    return info.value.reason


def test_issued_token_verifies(service, clock) -> None:
    """A freshly issued access token verifies and yields the user, handle and auth time."""
    pair = service.issue("alice")
    claims = service.verify(pair.access_token)
    assert (claims.user_id, claims.handle, claims.auth_time) == ("alice", pair.handle, int(clock()))


def test_crafted_valid_token_verifies(service, clock, ed_keys) -> None:
    """The crafting helpers make acceptable tokens, so each refusal below is the tested flaw."""
    token = sign_ed(ed_keys[0], header(), valid_claims(clock()))
    assert service.verify(token).user_id == "alice"


# -- TK-01 algorithms -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "NoNe", "noNE", "NONE"])
def test_tk01_alg_none_rejected(service, clock, ed_keys, alg) -> None:
    """alg none in any spelling is refused, with or without a signature segment."""
    head, body = segment(header(alg=alg)), segment(valid_claims(clock()))
    assert refused(service, f"{head}.{body}.") == "malformed token"
    assert refused(service, f"{head}.{body}.c2ln") == "algorithm not allowed"


def test_tk01_hs256_signed_with_public_key_rejected(service, clock, ed_keys) -> None:
    """An HS256 token whose HMAC key is our public key (key confusion) is refused."""
    token = sign_hs(ed_keys[1].encode(), header(alg="HS256"), valid_claims(clock()))
    assert refused(service, token) == "algorithm not allowed"


def test_tk01_algorithm_not_bound_to_key_rejected(service, clock, ec_keys) -> None:
    """An ES256 token presented to an EdDSA service is refused by the pinned algorithm."""
    jwt = pytest.importorskip("jwt")
    token = jwt.encode(
        valid_claims(clock()), ec_keys[0], algorithm="ES256", headers=header(alg=None)
    )
    assert refused(service, token) == "algorithm not allowed"


def test_tk01_hs256_service_refuses_pem_key_material(make_service, ed_keys) -> None:
    """An HS256 service never accepts PEM text or bytes as its secret."""
    from sessionware.errors import ConfigError

    with pytest.raises(ConfigError, match="PEM"):
        make_service(algorithm="HS256", keys={"k1": ed_keys[1].encode()})
    with pytest.raises(ConfigError, match="not text"):
        make_service(algorithm="HS256", keys={"k1": ed_keys[1]})


# -- TK-02 signature first, compact form only -------------------------------------------


def test_tk02_tampered_payload_rejected_before_claims_are_used(service, clock) -> None:
    """Swapping the payload of a genuine token fails on the signature, whatever it claims."""
    genuine = service.issue("alice").access_token
    head, _, sig = genuine.split(".")
    forged = f"{head}.{segment(valid_claims(clock(), sub='admin'))}.{sig}"
    assert refused(service, forged) == "bad signature"


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param("{h}.{p}.{s}.x.y", id="jwe-five-segments"),
        pytest.param("{h}.{p}", id="two-segments"),
        pytest.param(
            '{{"payload":"{p}","signatures":[{{"protected":"{h}","signature":"{s}"}}]}}',
            id="json-serialization",
        ),
        pytest.param("{h}.{p}.{s}=", id="padding"),
        pytest.param(" {h}.{p}.{s}", id="whitespace"),
        pytest.param("{h}.{p}.{s}\n", id="newline"),
        pytest.param("{h}..{s}", id="empty-segment"),
    ],
)
def test_tk02_non_compact_forms_rejected(service, shape) -> None:
    """JWE, JSON serialization and anything outside [A-Za-z0-9-_.] in three segments is refused."""
    h, p, s = service.issue("alice").access_token.split(".")
    assert refused(service, shape.format(h=h, p=p, s=s)) == "malformed token"


def test_tk02_non_canonical_base64_rejected(service) -> None:
    """A second spelling of a genuine signature (unused low bits flipped) is refused."""
    token = service.issue("alice").access_token
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    assert refused(service, twin) == "malformed token"


def test_tk02_crit_header_rejected(service, clock, ed_keys) -> None:
    """A header with extensions we never produce (crit, b64) is refused even when signed."""
    token = sign_ed(ed_keys[0], header(crit=["exp"], b64=True), valid_claims(clock()))
    assert refused(service, token) == "unsupported header"


def test_tk02_non_string_token_rejected(service) -> None:
    """Bytes, None and other non-strings are refused, never decoded."""
    for value in (b"a.b.c", None, 42):
        assert refused(service, value) == "malformed token"


# -- TK-03 time, issuer, audience, type -------------------------------------------------


def test_tk03_expired_rejected(service, clock) -> None:
    """A token past exp (beyond the leeway) is refused."""
    token = service.issue("alice").access_token
    clock.advance(300 + 5)
    assert refused(service, token) == "token expired"


def test_tk03_leeway_tolerates_small_skew(service, clock) -> None:
    """A token a few seconds past exp, within the leeway, still verifies."""
    token = service.issue("alice").access_token
    clock.advance(300 + 4)
    assert service.verify(token).user_id == "alice"


def test_tk03_not_yet_valid_rejected(service, clock) -> None:
    """A token whose nbf/iat lies beyond the leeway in the future is refused."""
    clock.advance(60)
    token = service.issue("alice").access_token
    clock.advance(-60)
    assert refused(service, token) == "token not yet valid"


def test_tk03_wrong_issuer_rejected(make_service, clock) -> None:
    """A token from another issuer sharing our keys is refused."""
    other = make_service(issuer="https://other.example.test")
    assert refused(make_service(), other.issue("alice").access_token) == "wrong issuer"


def test_tk03_wrong_audience_rejected(make_service) -> None:
    """A token minted for another audience with our keys is refused."""
    other = make_service(audience="web-admin")
    assert refused(make_service(), other.issue("alice").access_token) == "wrong audience"


@pytest.mark.parametrize(
    "head,claims",
    [
        pytest.param({"typ": "JWT"}, {}, id="header-typ-JWT"),
        pytest.param({"typ": None}, {}, id="header-typ-missing"),
        pytest.param({}, {"typ": None}, id="claim-typ-missing"),
        pytest.param({}, {"typ": "refresh"}, id="claim-typ-refresh"),
    ],
)
def test_tk03_typ_required(service, clock, ed_keys, head, claims) -> None:
    """typ must be at+jwt in the header and the claims (RFC 9068, RFC 8725 §3.11)."""
    token = sign_ed(ed_keys[0], header(**head), valid_claims(clock(), **claims))
    assert refused(service, token) == "wrong token type"


@pytest.mark.parametrize(
    "name", ["iss", "aud", "exp", "nbf", "iat", "sub", "sid", "jti", "auth_time"]
)
def test_tk03_required_claims(service, clock, ed_keys, name) -> None:
    """Each claim we issue is required; a validly signed token without it is refused."""
    token = sign_ed(ed_keys[0], header(), valid_claims(clock(), **{name: None}))
    assert refused(service, token) in {"wrong issuer", "wrong audience", "missing claim"}


def test_tk03_refresh_token_used_as_access_rejected(service) -> None:
    """A refresh token is never accepted as an access token."""
    pair = service.issue("alice")
    assert refused(service, pair.refresh_token) == "malformed token"


def test_tk03_access_token_used_as_refresh_rejected(service) -> None:
    """An access token is never accepted as a refresh token."""
    pair = service.issue("alice")
    with pytest.raises(InvalidToken, match="malformed refresh token"):
        service.refresh(pair.access_token)


# -- TK-04 kid and key-locating headers -------------------------------------------------


def test_tk04_unknown_kid_rejected_without_backend_access(make_service, backend, clock) -> None:
    """An unknown kid fails before any lookup, even with the revocation check on."""
    counting = CountingBackend(backend)
    service = make_service(backend=counting, check_revocation=True)
    attacker, _ = generate_keypair()
    token = sign_ed(attacker, header(kid="evil"), valid_claims(clock()))
    assert refused(service, token) == "unknown key"
    assert counting.total == 0


@pytest.fixture
def listener():
    """A loopback socket that counts connection attempts (a stand-in JWKS host)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/jwks.json", hits
    stop.set()
    thread.join()
    sock.close()


@pytest.mark.parametrize("param", ["jku", "x5u"])
def test_tk04_jku_header_never_fetched(service, clock, listener, param) -> None:
    """A token pointing at an attacker's key URL is refused and the URL is never contacted."""
    url, hits = listener
    attacker, _ = generate_keypair()
    token = sign_ed(attacker, header(**{param: url}), valid_claims(clock()))
    assert refused(service, token) == "bad signature"
    assert hits == []


def test_tk04_embedded_jwk_not_trusted(service, clock) -> None:
    """A token carrying its own (attacker's) public key in a jwk header is refused."""
    jwt = pytest.importorskip("jwt")
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    attacker, public = generate_keypair()
    jwk = jwt.algorithms.OKPAlgorithm.to_jwk(load_pem_public_key(public.encode()), as_dict=True)
    token = sign_ed(attacker, header(jwk=jwk, x5c=["MIIB"]), valid_claims(clock()))
    assert refused(service, token) == "bad signature"


def test_tk04_key_locating_headers_are_ignored(service, clock, ed_keys, listener) -> None:
    """jku/x5u/jwk/x5c on a token we really signed change nothing: the kid picks our key."""
    url, hits = listener
    token = sign_ed(ed_keys[0], header(jku=url, x5u=url, x5c=["MIIB"]), valid_claims(clock()))
    assert service.verify(token).user_id == "alice"
    assert hits == []


# -- TK-11 size before decoding ---------------------------------------------------------


def test_tk11_10kb_token_rejected_before_decoding(service) -> None:
    """A 10 KB token is refused for its size alone, not after decoding it."""
    h, p, s = service.issue("alice").access_token.split(".")
    huge = f"{h}.{p}{'A' * 10_240}.{s}"
    assert refused(service, huge) == "token too large"


def test_tk11_10kb_refresh_token_rejected(service) -> None:
    """An oversized refresh token is refused without a backend lookup."""
    with pytest.raises(InvalidToken, match="malformed"):
        service.refresh("A" * 10_240)


def test_tk11_issue_refuses_claims_that_would_exceed_the_limit(service) -> None:
    """Claims that would make a token the verifier refuses are refused at issue."""
    with pytest.raises(ValueError, match="max_token_bytes"):
        service.issue("alice", claims={"blob": "x" * 5000})


def test_verify_failure_emits_token_invalid_without_handle(service, events) -> None:
    """A refused access token raises a token_invalid event with a safe reason (AN-02)."""
    refused(service, "a.b.c")
    event = events[-1]
    assert (event.kind, event.handle, event.detail["reason"]) == (
        "token_invalid",
        None,
        "malformed token",
    )
    assert json.dumps(event.as_dict())
