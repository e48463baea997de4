"""Flask's and Flask-Session's settings as sessionware keywords (the Flask profile).

Read once by :class:`~sessionware.integrations.flask.Sessionware` at
``init_app``.  Flask's cookie settings keep their meaning: the cookie's
name, Path, Domain, HttpOnly, SameSite and Partitioned are Flask's, and
``SESSION_COOKIE_SECURE=False`` (Flask's default) means Secure exactly when
the request arrived over HTTPS (``secure="auto"``).  Flask keeps a session
as long as its cookie is refreshed within ``PERMANENT_SESSION_LIFETIME``
and has no absolute limit, so that lifetime becomes the idle limit and the
absolute limit is lifted; one startup line names each native default so
relaxed and the keyword restoring it.

Flask-Session's keys (``SESSION_TYPE``, ``SESSION_REDIS``,
``SESSION_KEY_PREFIX``, ``SESSION_PERMANENT``...) build the matching
backend; a setting sessionware cannot honour is a :class:`ConfigError`
naming it, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ..backends.base import Backend
from ..errors import ConfigError
from ..ids import ID_LENGTH
from ..keywords import UNBOUNDED, default_cookie_name

__all__ = ["FLASK_RESTORE", "FlaskProfile", "flask_backend", "flask_settings"]

FLASK_LIFETIME = timedelta(days=31)
#: The native keyword (passed to ``Sessionware(app, ...)``) restoring each relaxed default.
FLASK_RESTORE = {
    "idle_timeout": "Sessionware(app, idle_timeout=1800)",
    "absolute_timeout": "Sessionware(app, absolute_timeout=43200)",
    "cookie_name": "SESSION_COOKIE_SECURE=True",
    "secure": "SESSION_COOKIE_SECURE=True",
    "cookie_lifetime": "Sessionware(app, cookie_lifetime='remember')",
}
#: Flask-Session's defaults (0.8); a key at its default needs nothing from us.
FLASK_SESSION_DEFAULTS: dict[str, Any] = {
    "SESSION_TYPE": None,
    "SESSION_PERMANENT": True,
    "SESSION_USE_SIGNER": False,
    "SESSION_KEY_PREFIX": "session:",
    "SESSION_ID_LENGTH": 32,
    "SESSION_SERIALIZATION_FORMAT": "msgpack",
    "SESSION_SQLALCHEMY_TABLE": "sessions",
}
_REPLACEMENTS = {
    "cachelib": "RedisBackend for a RedisCache, SQLBackend for a database, or MemoryBackend "
    "(one process, development only) for a SimpleCache or FileSystemCache",
    "filesystem": "SQLBackend('sqlite:///sessions.db') for sessions on local disk",
    "memcached": "RedisBackend (memcached may evict live sessions)",
    "mongodb": "RedisBackend or SQLBackend",
    "dynamodb": "RedisBackend or SQLBackend",
}


class FlaskProfile:
    """What the Flask settings say beyond config fields: permanence of new sessions."""

    def __init__(self, permanent_default: bool, flask_session: bool) -> None:
        self.permanent_default = permanent_default
        self.flask_session = flask_session


def lifetime_of(config: Mapping[str, Any]) -> float:
    value = config.get("PERMANENT_SESSION_LIFETIME", FLASK_LIFETIME)
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def flask_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our config keywords for a Flask ``app.config`` (see the module docs)."""
    out: dict[str, Any] = {"codec": "tagged"}  # Flask's value types (FlaskSession)
    secret = config.get("SECRET_KEY")
    if secret:
        out["secret_keys"] = [secret, *(config.get("SECRET_KEY_FALLBACKS") or ())]
    secure: bool | str = True if config.get("SESSION_COOKIE_SECURE") is True else "auto"
    out["secure"] = secure
    path = config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/"
    if path != "/":
        out["path"] = path
    if config.get("SESSION_COOKIE_DOMAIN"):
        out["domain"] = config["SESSION_COOKIE_DOMAIN"]
    name = config.get("SESSION_COOKIE_NAME") or "session"
    if name == "session":
        name = default_cookie_name(secure is True, path, out.get("domain"))
    out["cookie_name"] = name
    if config.get("SESSION_COOKIE_HTTPONLY") is False:
        out["http_only"] = False
    same_site = config.get("SESSION_COOKIE_SAMESITE")
    if same_site is not None:
        out["same_site"] = str(same_site).lower()
        if out["same_site"] == "none" and secure is not True:
            raise ConfigError(
                "SESSION_COOKIE_SAMESITE='None' requires SESSION_COOKIE_SECURE=True "
                "(browsers drop a SameSite=None cookie that is not Secure)"
            )
    if config.get("SESSION_COOKIE_PARTITIONED"):
        if secure is not True:
            raise ConfigError(
                "SESSION_COOKIE_PARTITIONED=True requires SESSION_COOKIE_SECURE=True "
                "(browsers accept CHIPS cookies only with Secure)"
            )
        out["partitioned"] = True
    out.update(_lifetime(lifetime_of(config), config.get("SESSION_REFRESH_EACH_REQUEST", True)))
    return out


def _lifetime(seconds: float, refresh: bool) -> dict[str, Any]:
    """Flask keeps a session while its cookie is re-sent within the lifetime: an idle limit."""
    if not seconds > 0:
        raise ConfigError(f"PERMANENT_SESSION_LIFETIME must be positive, got {seconds!r}")
    out: dict[str, Any] = {
        "idle_timeout": seconds,
        "remember_timeout": seconds,
        "absolute_timeout": max(UNBOUNDED, seconds),
        "remember_absolute_timeout": max(UNBOUNDED, seconds),
        "cookie_lifetime": "sliding",
    }
    if not refresh:
        # Flask then re-sends a permanent cookie only when the session changes:
        # its Max-Age is fixed at creation, so the lifetime caps the session.
        out.update(
            cookie_lifetime="remember",
            remember_absolute_timeout=seconds,
            absolute_timeout=seconds,
        )
    if seconds <= 60:
        out["touch_interval"] = seconds / 2
    return out


def flask_session_keys(config: Mapping[str, Any]) -> bool:
    """True when the app was configured for Flask-Session."""
    return any(config.get(k) not in (None, v) for k, v in FLASK_SESSION_DEFAULTS.items()) or (
        "SESSION_TYPE" in config
    )


def profile_of(config: Mapping[str, Any]) -> FlaskProfile:
    """Flask-Session's ``SESSION_PERMANENT`` (default True) or Flask's (new sessions are not)."""
    used = flask_session_keys(config)
    permanent = bool(config.get("SESSION_PERMANENT", True)) if used else False
    length = config.get("SESSION_ID_LENGTH", 32)
    if used and (not isinstance(length, int) or length > ID_LENGTH):
        raise ConfigError(
            f"SESSION_ID_LENGTH={length!r}: sessionware IDs are 256-bit random values "
            f"({ID_LENGTH} characters), which it cannot lengthen; remove the setting"
        )
    fmt = config.get("SESSION_SERIALIZATION_FORMAT", "msgpack")
    if used and fmt not in ("msgpack", "json"):
        raise ConfigError(f"SESSION_SERIALIZATION_FORMAT={fmt!r} is not one Flask-Session writes")
    return FlaskProfile(permanent, used)


def flask_backend(config: Mapping[str, Any]) -> Backend | None:
    """The backend ``SESSION_TYPE`` asks for, on the user's own client where one is given."""
    kind = config.get("SESSION_TYPE")
    if kind in (None, "null"):
        return None
    prefix = config.get("SESSION_KEY_PREFIX") or "session:"
    if kind == "redis":
        from ..backends.redis import RedisBackend

        client = config.get("SESSION_REDIS")
        if client is None:
            return RedisBackend("redis://127.0.0.1:6379/0", prefix=prefix)
        return RedisBackend(redis_url(client), prefix=prefix, client=_decoding(client))
    if kind == "sqlalchemy":
        from ..backends.sql import SQLBackend

        db = config.get("SESSION_SQLALCHEMY")
        if db is None:
            raise ConfigError("SESSION_TYPE='sqlalchemy' needs SESSION_SQLALCHEMY (a db or engine)")
        bind = config.get("SESSION_SQLALCHEMY_BIND_KEY")
        engine = getattr(db, "engines", {}).get(bind) if hasattr(db, "engines") else db
        if engine is None:
            raise ConfigError(f"SESSION_SQLALCHEMY_BIND_KEY={bind!r} names no engine of the db")
        return SQLBackend(engine=engine, schema=config.get("SESSION_SQLALCHEMY_SCHEMA"))
    if kind in _REPLACEMENTS:
        raise ConfigError(
            f"SESSION_TYPE={kind!r} is not supported by sessionware: use {_REPLACEMENTS[kind]} "
            "(Sessionware(app, backend=...)) and remove SESSION_TYPE"
        )
    raise ConfigError(f"SESSION_TYPE={kind!r} is not a Flask-Session store sessionware knows")


def redis_url(client: Any) -> str:
    """A ``redis://`` URL for the server a redis-py client talks to."""
    kwargs = client.connection_pool.connection_kwargs
    auth = ""
    if kwargs.get("password"):
        auth = f"{kwargs.get('username') or ''}:{kwargs['password']}@"
    return f"redis://{auth}{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/" + str(
        kwargs.get("db", 0)
    )


def _decoding(client: Any) -> Any:
    """The user's client if it decodes replies, else a twin on the same server that does."""
    if client.get_encoder().decode_responses:
        return client
    import redis

    pool = client.connection_pool
    twin = redis.ConnectionPool(
        connection_class=pool.connection_class,
        **{**pool.connection_kwargs, "decode_responses": True},
    )
    return redis.Redis(connection_pool=twin)


def flask_session_store(config: Mapping[str, Any], allow_pickle: bool = False) -> Any:
    """The legacy Flask-Session store ``migrate_from="flask-session"`` reads from."""
    from ..migration.stores import FlaskSessionRedis, FlaskSessionSQL

    kind = config.get("SESSION_TYPE")
    prefix = config.get("SESSION_KEY_PREFIX") or "session:"
    signer = config.get("SECRET_KEY") if config.get("SESSION_USE_SIGNER") else None
    if kind == "redis":
        client = config.get("SESSION_REDIS")
        url = "redis://127.0.0.1:6379/0" if client is None else None
        return FlaskSessionRedis(
            url, client=client, prefix=prefix, allow_pickle=allow_pickle, signer_secret=signer
        )
    if kind == "sqlalchemy":
        db = config.get("SESSION_SQLALCHEMY")
        engine = getattr(db, "engine", db)
        return FlaskSessionSQL(
            engine,
            table=config.get("SESSION_SQLALCHEMY_TABLE") or "sessions",
            schema=config.get("SESSION_SQLALCHEMY_SCHEMA"),
            prefix=prefix,
            allow_pickle=allow_pickle,
            signer_secret=signer,
        )
    raise ConfigError(
        "migrate_from='flask-session' reads Flask-Session's redis or sqlalchemy store: "
        f"SESSION_TYPE is {kind!r}"
    )
