"""Session IDs: entropy, the itsdangerous signature format, rotation, and rejection of junk."""

from __future__ import annotations

import base64
import hashlib

import pytest
from itsdangerous import BadSignature, Signer

from sessionware.ids import (
    ID_LENGTH,
    SIGN_SALT,
    SIGNED_LENGTH,
    IdCodec,
    new_handle,
    new_id,
)

from ..conftest import OLD_SECRET, SECRET

KEY = SECRET.encode()
OLD = OLD_SECRET.encode()


def itsdangerous_signer(secret: bytes) -> Signer:
    return Signer(secret, salt=SIGN_SALT, key_derivation="hmac", digest_method=hashlib.sha256)


def test_ids_are_256_random_bits() -> None:
    """An ID decodes to exactly 32 bytes (ID-01)."""
    session_id = new_id()
    assert len(session_id) == ID_LENGTH
    assert len(base64.urlsafe_b64decode(session_id + "=")) == 32


def test_100k_ids_are_distinct_with_no_fixed_bytes() -> None:
    """100,000 IDs are all distinct and no byte position is constant across them (ID-02)."""
    ids = [new_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    raw = [base64.urlsafe_b64decode(i + "=") for i in ids[:2000]]
    for position in range(32):
        assert len({r[position] for r in raw}) > 1, f"byte {position} never changes"


def test_handles_are_random_and_unrelated_to_ids() -> None:
    """Handles are unique 128-bit random values, hex so they never read as a CLI option."""
    handles = {new_handle() for _ in range(10_000)}
    assert len(handles) == 10_000
    assert all(len(bytes.fromhex(h)) == 16 for h in handles)
    assert not any(h.startswith("-") for h in handles)


def test_signed_value_is_verifiable_by_itsdangerous() -> None:
    """The cookie value is itsdangerous's Signer format, so the library itself accepts it."""
    codec = IdCodec([KEY])
    session_id = new_id()
    value = codec.sign(session_id)
    assert len(value) == SIGNED_LENGTH
    assert itsdangerous_signer(KEY).unsign(value).decode() == session_id
    assert itsdangerous_signer(KEY).sign(session_id).decode() == value


def test_itsdangerous_signed_value_is_accepted() -> None:
    """A value signed by itsdangerous with the same secret and salt verifies here."""
    session_id = new_id()
    value = itsdangerous_signer(KEY).sign(session_id).decode()
    assert IdCodec([KEY]).unsign(value) == (session_id, 0)


def test_signature_with_another_secret_is_refused() -> None:
    """A value signed under a secret we do not hold is not ours (ID-07)."""
    value = IdCodec([OLD]).sign(new_id())
    assert IdCodec([KEY]).unsign(value) is None
    with pytest.raises(BadSignature):
        itsdangerous_signer(KEY).unsign(value)


def test_key_rotation_old_cookies_verify_and_keep_their_storage_key() -> None:
    """After rotating secrets, a cookie signed with the old key still maps to its record."""
    before = IdCodec([OLD])
    session_id = new_id()
    old_cookie = before.sign(session_id)
    old_storage = before.storage_key(*before.unsign(old_cookie))  # type: ignore[misc]

    after = IdCodec([KEY, OLD])
    verified = after.unsign(old_cookie)
    assert verified == (session_id, 1)
    assert after.storage_key(*verified) == old_storage


def test_key_rotation_new_cookies_use_the_newest_key() -> None:
    """The first key signs: a new cookie verifies under the new key alone, not the old one."""
    after = IdCodec([KEY, OLD])
    value = after.sign(new_id())
    assert IdCodec([KEY]).unsign(value) is not None
    assert IdCodec([OLD]).unsign(value) is None
    assert after.unsign(value) == (value[:ID_LENGTH], 0)


def test_storage_key_is_neither_the_id_nor_the_handle_nor_the_cookie() -> None:
    """The store sees only a keyed hash: nothing in it can be replayed as a cookie (ID-06)."""
    codec = IdCodec([KEY])
    session_id = new_id()
    key = codec.storage_key(session_id)
    cookie = codec.sign(session_id)
    assert key not in (session_id, cookie)
    assert session_id not in key
    assert codec.unsign(key) is None
    assert key != hashlib.sha256(session_id.encode()).hexdigest()  # keyed, not a bare hash
    assert IdCodec([OLD]).storage_key(session_id) != key


def _flip(text: str, index: int) -> str:
    char = "A" if text[index] != "A" else "B"
    return text[:index] + char + text[index + 1 :]


GOOD = IdCodec([KEY]).sign("x" * ID_LENGTH)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(_flip(GOOD, 0), id="tampered-id"),
        pytest.param(_flip(GOOD, SIGNED_LENGTH - 2), id="tampered-signature"),
        pytest.param(GOOD[:ID_LENGTH], id="unsigned-id"),
        pytest.param(GOOD[:-1], id="truncated"),
        pytest.param(GOOD + "A", id="overlong"),
        pytest.param(GOOD * 50, id="very-long"),
        pytest.param(GOOD.replace(".", "-"), id="no-dot"),
        pytest.param(GOOD[:ID_LENGTH] + "." + GOOD[:ID_LENGTH], id="id-as-signature"),
        pytest.param("é" * SIGNED_LENGTH, id="non-ascii"),
        pytest.param(GOOD[:5] + "é" + GOOD[6:], id="one-non-ascii-char"),
        pytest.param(GOOD[:5] + "\n" + GOOD[6:], id="control-char"),
        pytest.param(GOOD[:5] + "+" + GOOD[6:], id="non-urlsafe-char"),
        pytest.param(GOOD[:5] + "=" + GOOD[6:], id="padding-char"),
        pytest.param("." * SIGNED_LENGTH, id="all-dots"),
        pytest.param("\x00" * SIGNED_LENGTH, id="nul-bytes"),
    ],
)
def test_malformed_or_tampered_values_are_rejected(value: str) -> None:
    """Anything that is not exactly ID.SIGNATURE under our key is None, never an error (ID-08)."""
    assert IdCodec([KEY]).unsign(value) is None


def test_good_value_used_by_the_table_verifies() -> None:
    """The table above starts from a value that does verify (so each case tests one flaw)."""
    assert IdCodec([KEY]).unsign(GOOD) == ("x" * ID_LENGTH, 0)


def test_codec_needs_a_secret() -> None:
    """An IdCodec without keys is a programming error."""
    with pytest.raises(ValueError):
        IdCodec([])
