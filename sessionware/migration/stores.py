"""Server-side legacy stores: Flask-Session's (Redis, SQLAlchemy) and starsessions' (Redis).

With these peers the cookie carries only a session ID and the data lives in
the store.  A store here reads one legacy session by that ID, as
``(data, seconds_left)``, and deletes it once migrated.  Decoding never
runs pickle unless the user opts in with ``allow_pickle=True`` (older
Flask-Session versions pickled), and even then through an unpickler that
admits only plain builtin types, so a crafted record cannot run code.

With ``SESSION_USE_SIGNER=True`` Flask-Session's cookie is ``sid.signature``
(``signer_secret=`` the app's ``SECRET_KEY``); a bad signature reads nothing.
Flask-Session 0.6+ writes msgspec msgpack (the default) or msgspec JSON;
msgspec comes with the ``migrate`` extra.  starsessions writes JSON with
its ``__metadata__`` (``lifetime``, ``created``) inside the data.
"""

from __future__ import annotations

import asyncio
import io
import json
import pickle
from datetime import UTC, datetime
from typing import Any, Protocol

from ..errors import ConfigError, MissingExtra

__all__ = [
    "FlaskSessionRedis",
    "FlaskSessionSQL",
    "LegacyStore",
    "StarsessionsRedis",
    "decode_flask_session",
]

Found = tuple[dict[str, Any], float | None]

#: The builtins a pickled legacy session may contain (plain data, nothing callable).
_SAFE_BUILTINS = frozenset(
    {
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "str",
        "bytes",
        "bytearray",
        "int",
        "float",
        "bool",
        "complex",
    }
)


class LegacyStore(Protocol):
    """Reads and deletes one legacy session by the ID its cookie carried."""

    def read(self, sid: str) -> Found | None: ...
    def delete(self, sid: str) -> None: ...
    async def aread(self, sid: str) -> Found | None: ...
    async def adelete(self, sid: str) -> None: ...


def _unsigner(secret: str | bytes | None) -> Any:
    """Flask-Session's ``SESSION_USE_SIGNER=True`` cookie: ``sid.signature``."""
    if secret is None:
        return None
    from itsdangerous import Signer

    return Signer(secret, salt="flask-session", key_derivation="hmac")


def _sid(signer: Any, value: str) -> str | None:
    if signer is None:
        return value
    from itsdangerous import BadSignature

    try:
        return str(signer.unsign(value).decode())
    except (BadSignature, UnicodeError):
        return None


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"legacy session refers to {module}.{name}: refused")


def decode_flask_session(raw: bytes, allow_pickle: bool = False) -> dict[str, Any]:
    """One Flask-Session record: msgspec msgpack, else msgspec JSON, else (opt-in) pickle."""
    try:
        import msgspec
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtra("migrate", "msgspec") from exc
    for decoder in (msgspec.msgpack.Decoder(), msgspec.json.Decoder()):
        try:
            data = decoder.decode(raw)
        except msgspec.DecodeError:
            continue
        if isinstance(data, dict):
            return data
    if raw[:1] == b"\x80":  # a pickle protocol marker
        if not allow_pickle:
            raise ValueError(
                "a pickled Flask-Session record (older Flask-Session) was refused; pass "
                "allow_pickle=True to read it with a builtins-only unpickler"
            )
        try:
            data = _PlainUnpickler(io.BytesIO(raw)).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise ValueError(f"pickled Flask-Session record refused: {exc}") from exc
        if isinstance(data, dict):
            return data
    raise ValueError("not a Flask-Session record")


class _RedisStore:
    """Shared Redis plumbing: a sync and an async client (``decode_responses=False``)."""

    def __init__(self, url: str | None, client: Any, aclient: Any, prefix: str) -> None:
        if url is None and client is None and aclient is None:
            raise ConfigError("a legacy Redis store needs url= or a client")
        self.url, self.prefix = url, prefix
        self._client, self._aclient = client, aclient

    def _sync(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url or "redis://127.0.0.1:6379/0")
        return self._client

    def _async(self) -> Any:
        if self._aclient is None:
            if self.url is None:
                return None
            import redis.asyncio

            self._aclient = redis.asyncio.Redis.from_url(self.url)
        return self._aclient

    def _raw(self, sid: str) -> tuple[bytes, float | None] | None:
        pipe = self._sync().pipeline(transaction=False)
        pipe.get(self.prefix + sid)
        pipe.ttl(self.prefix + sid)
        raw, ttl = pipe.execute()
        return None if raw is None else (raw, float(ttl) if ttl and ttl > 0 else None)

    async def _araw(self, sid: str) -> tuple[bytes, float | None] | None:
        client = self._async()
        if client is None:
            return await asyncio.to_thread(self._raw, sid)
        pipe = client.pipeline(transaction=False)
        pipe.get(self.prefix + sid)
        pipe.ttl(self.prefix + sid)
        raw, ttl = await pipe.execute()
        return None if raw is None else (raw, float(ttl) if ttl and ttl > 0 else None)

    def _decode(self, raw: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, sid: str) -> Found | None:
        got = self._raw(sid)
        return None if got is None else (self._decode(got[0]), got[1])

    async def aread(self, sid: str) -> Found | None:
        got = await self._araw(sid)
        return None if got is None else (self._decode(got[0]), got[1])

    def delete(self, sid: str) -> None:
        self._sync().delete(self.prefix + sid)

    async def adelete(self, sid: str) -> None:
        client = self._async()
        if client is None:
            await asyncio.to_thread(self.delete, sid)
        else:
            await client.delete(self.prefix + sid)


class FlaskSessionRedis(_RedisStore):
    """Flask-Session's ``SESSION_TYPE="redis"`` store (key ``SESSION_KEY_PREFIX + sid``).

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        aclient: Any = None,
        prefix: str = "session:",
        allow_pickle: bool = False,
        signer_secret: str | bytes | None = None,
    ) -> None:
        super().__init__(url, client, aclient, prefix)
        self.allow_pickle = allow_pickle
        self._signer = _unsigner(signer_secret)

    def _decode(self, raw: bytes) -> dict[str, Any]:
        return decode_flask_session(raw, self.allow_pickle)

    def read(self, sid: str) -> Found | None:
        plain = _sid(self._signer, sid)
        return None if plain is None else super().read(plain)

    async def aread(self, sid: str) -> Found | None:
        plain = _sid(self._signer, sid)
        return None if plain is None else await super().aread(plain)

    def delete(self, sid: str) -> None:
        plain = _sid(self._signer, sid)
        if plain is not None:
            super().delete(plain)

    async def adelete(self, sid: str) -> None:
        plain = _sid(self._signer, sid)
        if plain is not None:
            await super().adelete(plain)


class StarsessionsRedis(_RedisStore):
    """starsessions' ``RedisStore`` (key ``prefix + session_id``, JSON data).

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        aclient: Any = None,
        prefix: str = "starsessions.",
    ) -> None:
        super().__init__(url, client, aclient, prefix)

    def _decode(self, raw: bytes) -> dict[str, Any]:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a starsessions record")
        return data


class FlaskSessionSQL:
    """Flask-Session's ``SESSION_TYPE="sqlalchemy"`` table (``session_id``, ``data``, ``expiry``).

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        engine: Any,
        *,
        table: str = "sessions",
        schema: str | None = None,
        prefix: str = "session:",
        allow_pickle: bool = False,
        signer_secret: str | bytes | None = None,
    ) -> None:
        import sqlalchemy as sa

        self.engine, self.prefix, self.allow_pickle = engine, prefix, allow_pickle
        self._signer = _unsigner(signer_secret)
        self.table = sa.Table(
            table,
            sa.MetaData(schema=schema),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("session_id", sa.String(255)),
            sa.Column("data", sa.LargeBinary),
            sa.Column("expiry", sa.DateTime),
        )

    def read(self, value: str) -> Found | None:
        import sqlalchemy as sa

        sid = _sid(self._signer, value)
        if sid is None:
            return None
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.data, t.c.expiry).where(t.c.session_id == self.prefix + sid)
            ).first()
        if row is None or row.data is None:
            return None
        left = None
        if row.expiry is not None:
            expiry = row.expiry if row.expiry.tzinfo else row.expiry.replace(tzinfo=UTC)
            left = (expiry - datetime.now(UTC)).total_seconds()
            if left <= 0:
                return None
        return decode_flask_session(bytes(row.data), self.allow_pickle), left

    def delete(self, value: str) -> None:
        import sqlalchemy as sa

        sid = _sid(self._signer, value)
        if sid is None:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.delete(self.table).where(self.table.c.session_id == self.prefix + sid))

    async def aread(self, value: str) -> Found | None:
        return await asyncio.to_thread(self.read, value)

    async def adelete(self, value: str) -> None:
        await asyncio.to_thread(self.delete, value)
