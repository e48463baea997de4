"""Atheris harness: token verification on arbitrary bytes.

Run it directly (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz_tokens.py -max_total_time=60 /tmp/corpus tests/fuzz/corpus/tokens

On every input: ``TokenService.verify`` returns claims only for a token this
service issued (the one genuine token of the run) and otherwise raises
:class:`~sessionware.errors.InvalidToken`, nothing else (TK-01, TK-02, TK-11,
ASVS 5.0 9.1.1); the refresh-token parser accepts only its own shape and
``refresh`` raises only token errors, never revoking the genuine session
for a forged token (TK-08).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sys

import atheris

with atheris.instrument_imports(include=["sessionware"]):
    from sessionware.backends import MemoryBackend
    from sessionware.errors import InvalidToken, TokenError, TokenReused
    from sessionware.tokens import TokenService
    from sessionware.tokens.refresh import parse

logging.disable(logging.CRITICAL)  # one token_invalid warning per input would drown the output

NOW = 1_800_000_000.0
KEY = b"f" * 32
BACKEND = MemoryBackend()
SERVICE = TokenService(
    BACKEND,
    keys={"k1": KEY},
    algorithm="HS256",
    issuer="https://issuer.test",
    audience="fuzz",
    clock=lambda: NOW,
)
PAIR = SERVICE.issue("alice")
HEADER = {"alg": "HS256", "kid": "k1", "typ": "at+jwt"}
CLAIMS = json.loads(base64.urlsafe_b64decode(PAIR.access_token.split(".")[1] + "=="))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(header: bytes, payload: bytes) -> str:
    """A token carrying a genuine signature over fuzzed header and payload bytes.

    It plays an issuer that holds the key but writes odd claims: everything
    after the signature check must still refuse cleanly (TK-03).
    """
    head = f"{_b64(header)}.{_b64(payload)}"
    sig = hmac.new(KEY, head.encode(), hashlib.sha256).digest()
    return f"{head}.{_b64(sig)}"


def fuzzed_value(fdp: atheris.FuzzedDataProvider) -> object:
    kind = fdp.ConsumeIntInRange(0, 6)
    if kind == 0:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 200))
    if kind == 1:
        return fdp.ConsumeRegularFloat()
    if kind == 2:
        return fdp.ConsumeUnicodeNoSurrogates(30)
    if kind == 3:
        return fdp.ConsumeBool()
    if kind == 4:
        return None
    if kind == 5:
        return [fdp.ConsumeInt(4)]
    return {"x": fdp.ConsumeInt(4)}


def check_signed_claims(token: str) -> None:
    """A validly signed token passes only with every claim in order."""
    try:
        claims = SERVICE.verify(token)
    except InvalidToken:
        return
    raw = claims.claims
    if raw.get("iss") != "https://issuer.test" or raw.get("aud") != "fuzz":
        raise AssertionError(f"issuer/audience not enforced: {raw!r}")
    if raw.get("typ") != "at+jwt" or not (raw["nbf"] <= NOW + 5 < raw["exp"] + 10):
        raise AssertionError(f"type or validity span not enforced: {raw!r}")
    if not all(isinstance(raw.get(k), str) and raw[k] for k in ("sub", "sid", "jti")):
        raise AssertionError(f"required claims not enforced: {raw!r}")


def check_token(text: str) -> None:
    try:
        claims = SERVICE.verify(text)
    except InvalidToken:
        pass
    else:
        if claims.handle != PAIR.handle or claims.user_id != "alice":
            raise AssertionError(f"a foreign token verified: {text!r}")
    parsed = parse(text)
    if parsed is not None and parsed.text != text:
        raise AssertionError("the refresh parser rewrote its input")
    if text in (PAIR.refresh_token, PAIR.access_token):
        return  # rotating the genuine token would end the run's only session
    try:
        SERVICE.refresh(text)
    except TokenReused:
        raise AssertionError("a token that was never issued counted as reuse") from None
    except TokenError:
        pass
    else:
        raise AssertionError(f"a forged refresh token was accepted: {text!r}")
    if BACKEND.load_handle(PAIR.handle, NOW) is None:
        raise AssertionError("a forged token ended the genuine session")


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 4)
    if mode == 3:  # genuine claims, one replaced by a fuzzed value, genuinely signed
        claims = dict(CLAIMS)
        name = fdp.PickValueInList(sorted(CLAIMS))
        claims[name] = fuzzed_value(fdp)
        if fdp.ConsumeBool():
            del claims[name]
        payload = json.dumps(claims).encode()
        check_signed_claims(signed(json.dumps(HEADER).encode(), payload))
        return
    if mode == 4:  # raw header and payload bytes, genuinely signed
        header = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
        if fdp.ConsumeBool():
            header = json.dumps(HEADER).encode()
        check_signed_claims(signed(header, fdp.ConsumeBytes(fdp.remaining_bytes())))
        return
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    if mode == 0:
        text = rest.decode("latin-1")
    elif mode == 1:
        text = rest.decode("utf-8", "replace")
    else:  # splice into the genuine access token, so mutations start near-valid
        genuine = PAIR.access_token
        piece = rest.decode("latin-1")
        cut = len(piece) % (len(genuine) + 1)
        text = genuine[:cut] + piece + genuine[cut + len(piece) :]
    check_token(text)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
