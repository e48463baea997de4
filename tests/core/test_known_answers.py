"""Known answers for the ID codec and the cookie writer (found missing by mutation testing).

A change to the storage-key derivation (its salt, digest size, hash) would
orphan every stored session at the next deploy, and a change to a cookie
attribute weakens every browser's copy; neither showed in any test before.
These pin the exact bytes, so such a change is a decision, not an accident.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from itsdangerous import Signer

from sessionware.config import SessionConfig
from sessionware.cookies import MAX_COOKIE, CookieWriter, read_session_cookies
from sessionware.ids import STORE_SALT, IdCodec

SID = "A" * 43


def _codec() -> IdCodec:
    # Built inside each test: an object built at import would escape mutation testing.
    return IdCodec([b"k" * 32, b"o" * 32])


def test_storage_key_known_answer() -> None:
    """The storage key of a fixed ID under fixed secrets is these 64 hex digits, per key."""
    codec = _codec()
    assert codec.storage_key(SID) == (
        "e206f1732fc96fb0d442a0e00361b381fa3632622cde318d0285e6d5d838c1cc"
    )
    assert codec.storage_key(SID, 1) == (
        "e951d4175af0d295b7ffbd0455e638d95782c12f69b34932231c31f25b2a893a"
    )


def test_storage_key_is_the_documented_derivation() -> None:
    """Keyed BLAKE2b-256 of the ID, keyed by itsdangerous's HMAC derivation with the store salt."""
    key = Signer(
        b"k" * 32, salt=STORE_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    ).derive_key()
    expected = hashlib.blake2b(SID.encode(), key=key, digest_size=32).hexdigest()
    assert STORE_SALT == b"sessionware.storage-key"
    assert _codec().storage_key(SID) == expected


def test_signature_known_answer() -> None:
    """The cookie value of a fixed ID is this exact signed string (itsdangerous format)."""
    codec = _codec()
    assert codec.sign(SID) == SID + "._B0sG1ZQ-0vub4HQwMy1crwW-eqJvatmkg1O3zqXc10"
    assert codec.unsign(codec.sign(SID)) == (SID, 0)


def test_a_codec_needs_a_secret() -> None:
    """No secret, no codec: the message says what is missing."""
    with pytest.raises(ValueError, match=r"^at least one secret is required$"):
        IdCodec([])


def _writer(**fields: object) -> CookieWriter:
    return CookieWriter(SessionConfig(secret_keys=["k" * 32], **fields))  # type: ignore[arg-type]


def test_session_cookie_attributes_known_answer() -> None:
    """The default Set-Cookie is a session cookie: Secure, HttpOnly, Path=/, SameSite=Lax."""
    assert _writer().set("v", max_age=None) == (
        "__Host-session=v; Secure; HttpOnly; Path=/; SameSite=Lax"
    )


def test_persistent_cookie_is_whole_seconds_and_capped() -> None:
    """Remember-me cookies carry whole-second Max-Age, capped at 400 days (RFC 6265bis)."""
    assert "; Max-Age=99; Secure; HttpOnly; Path=/; SameSite=Lax" in _writer().set(
        "v", max_age=99.7
    )
    assert "; Max-Age=34560000;" in _writer().set("v", max_age=10**10)


def test_configured_attributes_reach_both_set_and_delete() -> None:
    """Name, Domain, Path, Secure off and SameSite=Strict appear in set and delete alike."""
    writer = _writer(
        cookie_name="sid", secure=False, same_site="strict", path="/app", domain="example.com"
    )
    assert writer.set("v", max_age=None) == (
        "sid=v; Domain=example.com; HttpOnly; Path=/app; SameSite=Strict"
    )
    assert writer.delete() == (
        "sid=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; "
        "HttpOnly; Path=/app; SameSite=Strict"
    )


def test_deletion_known_answer() -> None:
    """The deletion repeats every attribute and expires the cookie in the past (CK-05)."""
    expected = (
        "__Host-session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; "
        "Secure; HttpOnly; Path=/; SameSite=Lax"
    )
    writer = _writer()
    assert writer.delete() == expected
    assert writer.delete() == expected  # built once, the same every time


@pytest.mark.filterwarnings("ignore:The '__Host-session' cookie is too large")
def test_the_cookie_size_limit_is_exact() -> None:
    """name=value up to 4096 bytes is written; one byte more raises (RFC 6265bis §5.7)."""
    name = "__Host-session"
    fits = "v" * (MAX_COOKIE - len(name) - 1)
    assert _writer().set(fits, max_age=None).startswith(f"{name}={fits};")
    with pytest.raises(ValueError, match=r"^session cookie would exceed 4096 bytes$"):
        _writer().set(fits + "v", max_age=None)


def test_a_value_may_contain_equals_signs() -> None:
    """Only the first '=' splits name from value: base64 padding survives the reader."""
    assert read_session_cookies("a=1; __Host-session=x=y==", "__Host-session") == ["x=y=="]


def test_new_ids_are_32_bytes() -> None:
    """A new ID decodes to exactly 32 bytes (256 bits, ID-01)."""
    from sessionware.ids import new_id

    assert len(base64.urlsafe_b64decode(new_id() + "=")) == 32


def test_key_fingerprints_known_answer() -> None:
    """A key shows as four hex digits of a salted hash, and only that, in reprs (#13)."""
    from sessionware.ids import fingerprint

    assert fingerprint(b"k" * 32) == "9d0c"
    assert repr(_codec()) == "IdCodec(keys=2, fingerprints=('9d0c', 'fd8a'))"


def test_shape_needs_both_length_and_alphabet() -> None:
    """A value of the signed length with foreign characters is not of our shape."""
    codec = _codec()
    assert codec.shaped(codec.sign(SID))
    assert not codec.shaped("!" * len(codec.sign(SID)))
    assert not codec.shaped(codec.sign(SID) + "A")


def test_partitioned_reaches_set_and_delete() -> None:
    """``partitioned=True`` adds the CHIPS attribute to the cookie and to its deletion."""
    writer = _writer(partitioned=True)
    assert writer.set("v", max_age=None).endswith("; SameSite=Lax; Partitioned")
    assert writer.delete().endswith("; SameSite=Lax; Partitioned")


def test_plain_drops_only_secure_and_partitioned() -> None:
    """The plain-HTTP form of a header (``secure="auto"``) loses Secure and Partitioned only."""
    header = "s=v; Secure; HttpOnly; Path=/; SameSite=Lax; Partitioned"
    assert CookieWriter.plain(header) == "s=v; HttpOnly; Path=/; SameSite=Lax"
    assert CookieWriter.plain(None) is None
    assert _writer(cookie_name="s", secure="auto").auto is True
    assert _writer().auto is False
