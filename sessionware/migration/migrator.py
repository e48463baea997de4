"""Legacy session migration: users of the peer libraries stay signed in on switch day.

``migrate_from=`` names where existing sessions live: a signed cookie
(``"starlette"``, ``"flask"``) or a server-side store whose cookie carries an
ID (``"flask-session"``, ``"starsessions"``).  A request carrying such a
cookie and no live sessionware session has the legacy session (data,
permanence, remaining lifetime) copied into a sessionware session, the old
record deleted, and the new cookie set in the same response.

Once: the first request for a legacy cookie inserts a marker record (key =
SHA-256 of the old value, with ``Create``, which never overwrites).  A copy
of a signed cookie stolen before the switch stays valid until its
timestamp runs out, so every later presentation is refused and expired
(FX-02 in spirit) ...

... except for the requests a browser sends *together*: a page that fires
parallel requests all carry the one legacy cookie.  They must all land in
the same new session, or the slowest response's cookie wins and the user
is signed out.  So the new session's ID is derived from the legacy cookie
(HMAC under our secret: only we can compute it, and only for a cookie
presented to us), and within :data:`JOIN_WINDOW` of the marker a request
that lost the race joins that session and sets the same cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from itsdangerous import BadSignature, SignatureExpired

from ..backends.base import Backend
from ..config import SessionConfig
from ..cookies import CookieWriter, read_session_cookies
from ..errors import BackendError, ConfigError
from ..events import Event
from ..facts import RequestFacts
from ..ids import ID_LENGTH, IdCodec, new_handle
from ..records import Create, Record
from ..session import Session
from .cookies import (
    DEFAULT_MAX_AGE,
    KINDS,
    LegacyCookie,
    decode_flask,
    decode_flask_tagged,
    decode_starlette,
)

__all__ = ["JOIN_WINDOW", "Found", "Migrator", "migrator_from_fields"]

log = logging.getLogger("sessionware")

Header = tuple[str, str]

#: Seconds after a legacy cookie's migration during which other requests that
#: carried it join the new session (parallel requests from one page load).
JOIN_WINDOW = 60.0
#: How long a marker is kept for a legacy cookie that carries no age limit.
_UNBOUNDED_MARKER = 400 * 86400.0
_MARKER_SALT = b"sessionware.legacy-cookie\x00"
_ID_SALT = b"sessionware.legacy-id\x00"
_NO_STORE = ("cache-control", "no-store")
_SERVER_SIDE = ("flask-session", "starsessions")
_HTTPS = ("https", "wss")


@dataclass(slots=True)
class Found:
    """A legacy cookie seen on one request (mutable: the adapter fills it in)."""

    value: str
    client: str | None = None
    data: dict[str, Any] | None = None
    expires_at: float | None = None
    events: list[Event] = field(default_factory=list)
    delete: bool = True
    adopt: bool = False
    #: The ID every request carrying this legacy cookie lands in.
    new_id: str = ""
    #: Joined a session another request migrated (the race's losers).
    join: bool = False
    #: Server-side kinds: the data is still to be read from the legacy store.
    pending: bool = False
    remember: bool = False
    https: bool = True
    max_age: float | None = None


class Migrator:
    """Finds, verifies, adopts and expires legacy sessions for one middleware."""

    __slots__ = ("_decode", "_delete", "_ids", "_mac", "_same_name", "config", "cookies", "spec")

    def __init__(self, spec: LegacyCookie, config: SessionConfig, tagged: bool = False) -> None:
        self.spec = spec
        self.config = config
        self.cookies = CookieWriter(config)
        self._ids = IdCodec(config.secrets)
        self._mac = hmac.new(config.secrets[0], _ID_SALT, hashlib.sha256)
        flask_decode = decode_flask_tagged if tagged else decode_flask
        self._decode = {"starlette": decode_starlette, "flask": flask_decode}.get(spec.kind)
        self._same_name = spec.cookie_name == config.cookie_name
        from werkzeug.http import dump_cookie

        self._delete: Header = (
            "set-cookie",
            dump_cookie(
                spec.cookie_name,
                "",
                max_age=0,
                expires=0,
                path=spec.path,
                domain=spec.domain,
                secure=bool(config.secure),
                httponly=True,
                samesite="Lax",
            ),
        )

    # -- screening (no I/O) -----------------------------------------------------------

    def screen(self, facts: RequestFacts) -> tuple[RequestFacts, Found | None]:
        """Pick the legacy cookie out of the request (cheap when there is none).

        When the old and new cookies share a name, a legacy value is removed
        from the facts the engine sees, so it is not taken for a forged ID.
        """
        header = facts.cookie
        name = self.spec.cookie_name
        if not header or name not in header:
            return facts, None
        values = read_session_cookies(header, name)
        last: Found | None = None
        for raw in values:
            value = raw[1:-1] if len(raw) > 1 and raw[0] == raw[-1] == '"' else raw
            found = self._verify(value, facts)
            if found.data is not None or found.pending:
                found.new_id = self._derive(value)
                found.https = facts.scheme in _HTTPS
                if self._same_name:
                    facts = replace(facts, cookie=_without(header, name, raw))
                return facts, found
            last = found
        if self._same_name or last is None:
            return facts, None  # not a legacy cookie: the engine judges it as ours
        return facts, last

    def _verify(self, value: str, facts: RequestFacts) -> Found:
        found = Found(value, facts.client)
        if self._decode is None:  # a server-side store: any value not shaped like ours
            found.pending = self._ids.unsign(value) is None and 0 < len(value) <= 256
            return found
        detail = {"legacy": self.spec.kind}
        try:
            data, signed_at = self._decode(value, self.spec)
        except SignatureExpired:
            found.events.append(Event("expired", facts.client, detail=detail))
            return found
        except (BadSignature, ValueError, TypeError, UnicodeError):
            if not self._same_name:
                found.events.append(Event("bad_signature", facts.client, detail=detail))
            return found
        found.data = data
        age = self.spec.max_age_s
        found.expires_at = signed_at + (age if age is not None else _UNBOUNDED_MARKER)
        return found

    def _derive(self, value: str) -> str:
        mac = self._mac.copy()
        mac.update(value.encode("latin-1", "replace"))
        return base64.urlsafe_b64encode(mac.digest()).decode()[:ID_LENGTH]

    # -- adoption (the I/O: legacy store, marker, new record) --------------------------

    def _eligible(self, found: Found, session: Session) -> bool:
        if session.read_only or session.store_unavailable:
            return False
        # A live sessionware session wins; the old cookie is just dropped.
        return session.is_new and not session.modified and not len(session)

    def _loaded(
        self, found: Found, got: tuple[dict[str, Any], float | None] | None, now: float
    ) -> None:
        if got is None:
            return
        data, left = got
        found.data = dict(data)
        found.expires_at = now + (left if left is not None else DEFAULT_MAX_AGE[self.spec.kind])

    def _marker(self, found: Found, now: float) -> Record:
        expires = max(found.expires_at or now + JOIN_WINDOW, now + JOIN_WINDOW)
        digest = hashlib.sha256(_MARKER_SALT + found.value.encode("latin-1", "replace"))
        return Record(
            key=digest.hexdigest(),
            handle=new_handle(),
            created_at=now,
            last_active=now,
            expires_at=expires,
            absolute_at=expires,
            extra={"kind": "legacy-marker"},
        )

    def _record(self, found: Found, session: Session, now: float) -> Record | None:
        data = dict(found.data or {})
        meta = data.pop("__metadata__", None)  # starsessions
        # Flask and Flask-Session keep permanence in the data; Flask-Session's
        # SESSION_PERMANENT is the default, Flask's is "not permanent".
        default = self.spec.permanent if self.spec.kind == "flask-session" else False
        remember = bool(data.pop("_permanent", default))
        if isinstance(meta, dict):
            remember = bool(meta.get("lifetime"))
        try:
            texts = {str(k): session.encode_value(v) for k, v in data.items()}
        except (TypeError, ValueError) as exc:
            log.warning("legacy %s session not migrated: %s", self.spec.kind, exc)
            return None
        if sum(len(k) + len(v) for k, v in texts.items()) > self.config.max_data_bytes:
            log.warning("legacy %s session not migrated: over max_data_bytes", self.spec.kind)
            return None
        absolute_at = now + self.config.absolute_for(remember)
        expires_at = min(now + self.config.idle_for(remember), absolute_at)
        if found.expires_at is not None:
            expires_at = max(min(expires_at, found.expires_at), now + 1.0)
        user = data.get(self.spec.user_key) if self.spec.user_key else None
        user_id = str(user) if isinstance(user, str | int) and not isinstance(user, bool) else None
        record = Record(
            key=self._ids.storage_key(found.new_id),
            handle=new_handle(),
            created_at=now,
            last_active=now,
            expires_at=expires_at,
            absolute_at=absolute_at,
            user_id=user_id or None,
            auth_time=now if user_id else None,
            remember=remember,
            data=texts,
            info={"ip": found.client or "", "agent": ""},
        )
        self._set_max_age(found, record, now)
        return record

    def _set_max_age(self, found: Found, record: Record, now: float) -> None:
        mode = self.config.cookie_lifetime
        if mode == "always" or (record.remember and mode == "sliding"):
            found.max_age = record.expires_at - now
        elif record.remember:
            found.max_age = record.absolute_at - now
        found.remember = record.remember

    def _resumed(self, record: Record, session: Session, found: Found, now: float) -> Session:
        self._set_max_age(found, record, now)
        resumed = type(session)(record, limit=self.config.max_data_bytes)
        resumed.presented = True
        return resumed

    def adopt(self, found: Found, session: Session, backend: Backend, now: float) -> Session:
        """The session this request continues: migrated, joined, or ``session`` (sync face)."""
        if not self._eligible(found, session) or not (found.data or found.pending):
            return session
        store = self.spec.store
        try:
            if found.pending:
                self._loaded(found, store.read(found.value), now)
            marker = self._marker(found, now)
            if found.data and backend.apply([Create(marker)], now).ok:
                record = self._record(found, session, now)
                if record is None:
                    return session
                backend.apply([Create(record)], now)
                if found.pending:
                    store.delete(found.value)
                found.adopt = True
                return self._resumed(record, session, found, now)
            seen = backend.load(marker.key, now)
            if self._joins(found, seen, now):
                record = backend.load(self._ids.storage_key(found.new_id), now)
                return session if record is None else self._resumed(record, session, found, now)
        except (BackendError, OSError, ValueError) as exc:
            log.warning("legacy %s session not migrated: %s", self.spec.kind, exc)
            found.delete = False  # keep the old cookie: we may migrate it next time
        return session

    async def aadopt(self, found: Found, session: Session, backend: Backend, now: float) -> Session:
        """:meth:`adopt` on the async face."""
        if not self._eligible(found, session) or not (found.data or found.pending):
            return session
        store = self.spec.store
        try:
            if found.pending:
                self._loaded(found, await store.aread(found.value), now)
            marker = self._marker(found, now)
            if found.data and (await backend.aapply([Create(marker)], now)).ok:
                record = self._record(found, session, now)
                if record is None:
                    return session
                await backend.aapply([Create(record)], now)
                if found.pending:
                    await store.adelete(found.value)
                found.adopt = True
                return self._resumed(record, session, found, now)
            seen = await backend.aload(marker.key, now)
            if self._joins(found, seen, now):
                record = await backend.aload(self._ids.storage_key(found.new_id), now)
                return session if record is None else self._resumed(record, session, found, now)
        except (BackendError, OSError, ValueError) as exc:
            log.warning("legacy %s session not migrated: %s", self.spec.kind, exc)
            found.delete = False
        return session

    def _joins(self, found: Found, marker: Record | None, now: float) -> bool:
        """A request that lost the race joins; a late replay is refused and reported."""
        if marker is not None and now - marker.created_at <= JOIN_WINDOW:
            found.join = True
            return True
        if marker is not None or found.data:
            reason = "already migrated"
        elif found.pending:
            reason = "no such legacy session"
        else:
            return False
        found.events.append(
            Event("unknown_id", found.client, detail={"legacy": self.spec.kind, "reason": reason})
        )
        return False

    def with_headers(
        self, found: Found, sets_cookie: bool, headers: tuple[Header, ...]
    ) -> tuple[Header, ...]:
        """``headers`` plus the new session's cookie (migrated or joined) and the
        deletion of the old one (first, so a new cookie of the same name wins)."""
        spec, cfg = self.spec, self.config
        out = list(headers)
        replaced = sets_cookie
        if (found.adopt or found.join) and not sets_cookie:
            cookie = self.cookies.set(self._ids.sign(found.new_id), max_age=found.max_age)
            if self.cookies.auto and not found.https:
                cookie = self.cookies.plain(cookie) or cookie
            out.append(("set-cookie", cookie))
            replaced = True
        same_place = self._same_name and spec.path == cfg.path and spec.domain == cfg.domain
        if found.delete and not (replaced and same_place):
            deletion = self._delete
            if self.cookies.auto and not found.https:
                deletion = ("set-cookie", self.cookies.plain(deletion[1]) or deletion[1])
            out.insert(0, deletion)
        if len(out) != len(headers) and not any(name == "cache-control" for name, _ in out):
            out.append(_NO_STORE)
        return tuple(out)


def _without(header: str, name: str, raw: str) -> str:
    parts = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value.strip() == raw:
            continue
        parts.append(part.strip())
    return "; ".join(p for p in parts if p)


def migrator_from_fields(
    fields: dict[str, Any], config: SessionConfig, tagged: bool = False
) -> Migrator | None:
    """The migrator ``migrate_from`` / ``legacy_secret`` / ``legacy_store`` describe."""
    source = fields.get("migrate_from")
    if source is None:
        if fields.get("legacy_secret") is not None or fields.get("legacy_store") is not None:
            raise ConfigError(f"legacy_secret/legacy_store given without migrate_from= ({KINDS})")
        return None
    if isinstance(source, LegacyCookie):
        if fields.get("legacy_secret") is not None:
            raise ConfigError("pass the secret inside LegacyCookie(...), not as legacy_secret")
        spec = source
    elif source in _SERVER_SIDE:
        spec = LegacyCookie(kind=source, store=fields.get("legacy_store"))
    else:
        secret = fields.get("legacy_secret")
        if secret is None:
            raise ConfigError(
                f"migrate_from={source!r} needs legacy_secret= (the old framework's secret key)"
            )
        spec = LegacyCookie(kind=source, secret=secret)
    return Migrator(spec, config, tagged)
