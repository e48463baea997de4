"""Refresh tokens: opaque, single-use, stored only as hashes.

A refresh token is ``<handle>.<body>``, where ``body`` is the base64url form
of 48 random bytes: a 128-bit *family* value, fixed for the session's life,
then a 256-bit *secret*, new on every rotation (TK-07).

- The **handle** is a locator: the server finds the record with
  ``load_handle``, so no extra index is needed.  It is public (TM-04).
- Only **hashes** are stored (``Record.extra``), so a dump of the store
  yields no usable refresh token (ID-06).
- The **family** exists because handles are public: they are listed,
  logged and shown to admins.  Without it, anyone who knows a handle could
  send ``<handle>.<garbage>`` and have the session revoked as "reuse".  A
  token whose family hash matches, but which is not the current token, was
  provably issued for this session earlier: that is reuse (TK-08).  A token
  whose family does not match was never ours: it is refused, nothing changes.

The record's ``extra`` holds JSON scalars only::

    kind     "token"          marks a token session (SessionInfo.kind; cookie sessions lack it)
    fam      family hash
    rt       hash of the current refresh token
    rt_prev  hash of the token rotated out last ("" before the first refresh)
    rt_at    when rt_prev was rotated out (Unix time)
    gen      number of rotations so far
    claims   the custom access-token claims, as JSON text

Rotation is one compare-and-set ``Patch`` (``expect={"rt": old}``), so of two
concurrent refreshes with the same token only one applies (TK-10); the loser
is refused without revoking anything, and its token is from then on the
previous one, so presenting it again is handled as the rules below say.

Grace (``reuse_grace``, at most 60 s, default 0; TK-09): presenting exactly
``rt_prev`` within ``reuse_grace`` seconds of *its* rotation re-rotates: a new
token replaces the current one (which is thereby dead; presenting it later
counts as reuse) and ``rt_at`` is *not* moved, so the window never slides.
This survives a lost refresh response, the common case for a grace period,
without ever letting two valid chains coexist.  Anything older is reuse.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidToken
from ..ids import new_handle
from ..records import Patch, Record

__all__ = ["RefreshToken", "Verdict", "judge", "mint", "new_session", "parse", "rotation"]

FAMILY_BYTES = 16
SECRET_BYTES = 32
_BODY_LEN = 64  # base64url of 48 bytes, no padding, no spare bits
_SHAPE = re.compile(r"([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{64})")
#: Longest refresh token ``parse`` looks at; anything longer is refused unread.
MAX_LENGTH = 64 + 1 + _BODY_LEN


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A parsed refresh token (``text`` is the token itself; never log it)."""

    handle: str
    family: bytes
    text: str

    @property
    def digest(self) -> str:
        """What the store keeps for this token."""
        return _hash(b"sessionware.rt\x00", self.text.encode())

    @property
    def family_digest(self) -> str:
        return _hash(b"sessionware.rtf\x00", self.handle.encode(), b"\x00", self.family)


def _hash(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()


def mint(handle: str, family: bytes | None = None) -> RefreshToken:
    """A new token for ``handle``; pass the session's ``family`` when rotating."""
    if family is None:
        family = secrets.token_bytes(FAMILY_BYTES)
    body = base64.urlsafe_b64encode(family + secrets.token_bytes(SECRET_BYTES)).decode()
    return RefreshToken(handle, family, f"{handle}.{body}")


def parse(token: object) -> RefreshToken | None:
    """The parsed token, or None when ``token`` does not have the refresh shape.

    The length is checked before the pattern and the pattern before base64,
    so a hostile value costs almost nothing (TK-11).  An access token (three
    segments) never matches (TK-03).
    """
    if not isinstance(token, str) or len(token) > MAX_LENGTH:
        return None
    match = _SHAPE.fullmatch(token)
    if match is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(match.group(2))
    except (binascii.Error, ValueError):  # pragma: no cover - shape already checked
        return None
    return RefreshToken(match.group(1), raw[:FAMILY_BYTES], token)


def new_session(
    user_id: str,
    claims_json: str,
    info: dict[str, str],
    now: float,
    *,
    idle: float,
    absolute: float,
) -> tuple[Record, RefreshToken]:
    """The record of a new token session and its first refresh token.

    The storage key is random: no cookie ever maps to it, only the handle
    finds the record.  ``remember`` is set because token sessions outlive a
    browser session; the refresh limits are the record's limits.
    """
    handle = new_handle()
    token = mint(handle)
    record = Record(
        key=secrets.token_hex(32),
        handle=handle,
        created_at=now,
        last_active=now,
        expires_at=now + min(idle, absolute),
        absolute_at=now + absolute,
        user_id=user_id,
        auth_time=now,
        remember=True,
        info=info,
        extra=_new_extra(token, claims_json, now),
    )
    return record, token


def _new_extra(token: RefreshToken, claims_json: str, now: float) -> dict[str, Any]:
    return {
        "kind": "token",
        "fam": token.family_digest,
        "rt": token.digest,
        "rt_prev": "",
        "rt_at": now,
        "gen": 0,
        "claims": claims_json,
    }


class Verdict(enum.Enum):
    """What a presented refresh token means for its session."""

    ROTATE = "rotate"  # the current token: rotate it
    GRACE = "grace"  # the previous token, inside reuse_grace: re-rotate
    REUSE = "reuse"  # an older token of this session: revoke the session


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and hmac.compare_digest(a, b)


def judge(token: RefreshToken, extra: Mapping[str, Any], now: float, grace: float) -> Verdict:
    """Classify ``token`` against its session's ``extra``; :class:`InvalidToken` if foreign.

    Hash comparisons run in constant time.  A token of the wrong family (or
    presented against a cookie session's handle) changes nothing.
    """
    if extra.get("kind") != "token":
        raise InvalidToken("unknown refresh token")
    digest = token.digest
    if _same(digest, extra.get("rt")):
        return Verdict.ROTATE
    if not _same(token.family_digest, extra.get("fam")):
        raise InvalidToken("unknown refresh token")
    rotated_at = extra.get("rt_at")
    if (
        grace > 0
        and _same(digest, extra.get("rt_prev"))
        and isinstance(rotated_at, int | float)
        and 0 <= now - rotated_at <= grace
    ):
        return Verdict.GRACE
    return Verdict.REUSE


def rotation(record: Record, verdict: Verdict, new: RefreshToken, now: float, idle: float) -> Patch:
    """The compare-and-set patch that makes ``new`` the session's only valid token.

    ROTATE moves the current hash to ``rt_prev`` and stamps ``rt_at``; GRACE
    replaces only the current hash and leaves ``rt_prev``/``rt_at`` alone, so
    the grace window is measured from the original rotation.  Both slide the
    idle deadline, never past ``absolute_at`` (EX-03, ASVS 5.0 10.4.8).
    """
    extra = record.extra
    gen = extra.get("gen")
    changes: dict[str, Any] = {"rt": new.digest, "gen": (gen if isinstance(gen, int) else 0) + 1}
    expect: dict[str, Any] = {"rt": extra.get("rt")}
    if verdict is Verdict.ROTATE:
        changes.update(rt_prev=extra.get("rt"), rt_at=now)
    else:
        expect["rt_prev"] = extra.get("rt_prev")
    return Patch(
        record.key,
        meta={"last_active": now, "expires_at": min(now + idle, record.absolute_at)},
        extra=changes,
        expect=expect,
    )
