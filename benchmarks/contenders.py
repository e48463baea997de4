"""Every contender: a name, what it needs, and a factory that builds its app.

A contender is one session layer in front of the same app (``apps.py``).
Each factory imports its libraries lazily, so a missing optional module or
a service that is down only skips that contender, with a note saying why
(``unavailable()``).  The sessionware backends written in other branches
(Redis, SQL, tokens, guard, the Flask integration) show up here by
themselves once their modules exist.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import apps, bare_redis

SECRET = "bench-secret-" + "k" * 40
REDIS_URL = os.environ.get("SESSIONWARE_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "SESSIONWARE_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Env:
    """Per-run facts every factory may use (prefixes keep runs apart in shared stores)."""

    run_id: str = field(default_factory=lambda: f"bench{os.getpid()}x{os.urandom(3).hex()}")
    redis_url: str = REDIS_URL
    postgres_url: str = POSTGRES_URL
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sw-bench-")))


@dataclass
class Built:
    """A contender's app plus how to release what it opened.

    ``credential`` turns the ``/seed`` response into the request header that
    carries the session (default: the Set-Cookie value, sent as ``Cookie``).
    """

    app: Any
    close: Callable[[], None] | None = None
    aclose: Callable[[], Awaitable[None]] | None = None
    credential: Callable[[list[tuple[str, str]], bytes], tuple[str, str]] | None = None
    backend: Any = None


@dataclass(frozen=True)
class Contender:
    name: str
    protocol: str  # "asgi" | "wsgi"
    family: str  # "floor" | "peer" | "sessionware"
    factory: Callable[[Env], Built]
    needs: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    quick: bool = False
    store: str = "memory"  # memory | cookie | redis | sqlite | postgres
    #: Token sessions are read-only: such a contender skips the writing cases.
    read_only: bool = False


def cookie_credential(headers: list[tuple[str, str]], body: bytes) -> tuple[str, str]:
    """The first non-empty ``Set-Cookie`` of a response, as a ``Cookie`` header."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0].strip()
            if pair.partition("=")[2].strip("'\""):
                return "cookie", pair
    raise RuntimeError(f"no session cookie in the /seed response: {headers!r}")


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    default = 6379 if parts.scheme.startswith("redis") else 5432
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default), 0.5):
            return True
    except OSError:
        return False


def unavailable(contender: Contender, env: Env) -> str | None:
    """Why ``contender`` cannot run here, or None when it can."""
    for module in contender.needs:
        if not _has(module):
            return f"module {module} is not available"
    for service in contender.services:
        url = env.redis_url if service == "redis" else env.postgres_url
        if not _reachable(url):
            return f"{service} is not reachable at {url}"
    return None


# -- ASGI ----------------------------------------------------------------------------


def _starlette_bare(env: Env) -> Built:
    return Built(apps.starlette_app(None))


async def _scope_session(request: Any) -> Any:
    return request.session


def _starlette_session(env: Env) -> Built:
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    middleware = [Middleware(SessionMiddleware, secret_key=SECRET)]
    return Built(apps.starlette_app(_scope_session, middleware))


async def _starsessions_session(request: Any) -> Any:
    from starsessions import load_session

    await load_session(request)
    return request.session


def _starsessions(store: Any, aclose: Callable[[], Awaitable[None]] | None = None) -> Built:
    from starlette.middleware import Middleware
    from starsessions import SessionMiddleware

    middleware = [Middleware(SessionMiddleware, store=store, cookie_https_only=False)]
    return Built(apps.starlette_app(_starsessions_session, middleware), aclose=aclose)


def _starsessions_memory(env: Env) -> Built:
    from starsessions import InMemoryStore

    return _starsessions(InMemoryStore())


def _starsessions_redis(env: Env) -> Built:
    from redis.asyncio import Redis
    from starsessions.stores.redis import RedisStore

    client = Redis.from_url(env.redis_url)
    prefix = f"{env.run_id}:starsessions:"

    async def aclose() -> None:
        await _adelete_prefix(client, prefix)
        await client.aclose()

    return _starsessions(RedisStore(connection=client, prefix=prefix), aclose)


def _sessionware_asgi(
    backend_factory: Callable[[Env], Any], load: str = "eager"
) -> Callable[[Env], Built]:
    def factory(env: Env) -> Built:
        from sessionware import SessionMiddleware, load_session

        backend = backend_factory(env)
        # load="lazy": the session is read by load_session(), as with starsessions.
        session_of = _scope_session if load == "eager" else load_session
        app = SessionMiddleware(
            apps.starlette_app(session_of), secret_keys=[SECRET], backend=backend, load=load
        )
        return Built(app, aclose=_backend_aclose(backend, env), backend=backend)

    return factory


# -- WSGI ----------------------------------------------------------------------------


def _flask_bare(env: Env) -> Built:
    return Built(apps.flask_app(None))


def _flask_session_proxy() -> Any:
    from flask import session

    return session


def _flask_cookie(env: Env) -> Built:
    def configure(app: Any) -> None:
        app.secret_key = SECRET

    return Built(apps.flask_app(_flask_session_proxy, configure))


def _flask_session_redis(env: Env) -> Built:
    from redis import Redis

    client = Redis.from_url(env.redis_url)
    prefix = f"{env.run_id}:flask-session:"

    def configure(app: Any) -> None:
        from flask_session import Session

        app.secret_key = SECRET
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=client, SESSION_KEY_PREFIX=prefix)
        Session(app)

    def close() -> None:
        _delete_prefix(client, prefix)
        client.close()

    return Built(apps.flask_app(_flask_session_proxy, configure), close=close)


def _environ_session() -> Any:
    from flask import request

    return request.environ["sessionware.session"]


def _sessionware_wsgi(backend_factory: Callable[[Env], Any]) -> Callable[[Env], Built]:
    def factory(env: Env) -> Built:
        from sessionware import WSGISessionMiddleware

        backend = backend_factory(env)
        app = apps.flask_app(_environ_session)
        app.wsgi_app = WSGISessionMiddleware(app.wsgi_app, secret_keys=[SECRET], backend=backend)
        return Built(app, close=_backend_close(backend, env), backend=backend)

    return factory


def _sessionware_flask(backend_factory: Callable[[Env], Any]) -> Callable[[Env], Built]:
    def factory(env: Env) -> Built:
        from sessionware.integrations.flask import Sessionware

        backend = backend_factory(env)

        def configure(app: Any) -> None:
            Sessionware(app, secret_keys=[SECRET], backend=backend)

        app = apps.flask_app(_flask_session_proxy, configure)
        return Built(app, close=_backend_close(backend, env), backend=backend)

    return factory


def _sessionware_bearer(backend_factory: Callable[[Env], Any]) -> Callable[[Env], Built]:
    """Token mode: the app sees a read-only session made from a verified access token."""

    def factory(env: Env) -> Built:
        from sessionware import SessionMiddleware
        from sessionware import tokens as token_mode  # a sub-module: absent before #5 lands

        backend = backend_factory(env)
        # The key follows from the run, so the harness can mint tokens that a
        # server process of the same run accepts (verification is stateless).
        key = hashlib.sha256(f"{env.run_id}:bearer".encode()).digest()
        tokens = token_mode.TokenService(
            backend,
            keys={"k1": key},
            algorithm="HS256",
            issuer="https://bench.example.test",
            audience="bench",
            access_ttl=3600,  # the longest allowed: a full run outlasts the 5 min default
        )
        app = SessionMiddleware(
            apps.starlette_app(_scope_session), secret_keys=[SECRET], backend=backend, tokens=tokens
        )
        access = tokens.issue("alice", claims=dict(apps.SEED)).access_token

        def credential(headers: list[tuple[str, str]], body: bytes) -> tuple[str, str]:
            return "authorization", f"Bearer {access}"

        return Built(
            app, aclose=_backend_aclose(backend, env), credential=credential, backend=backend
        )

    return factory


# -- sessionware backends --------------------------------------------------------------


def memory_backend(env: Env) -> Any:
    from sessionware.backends import MemoryBackend

    return MemoryBackend()


def redis_backend(env: Env) -> Any:
    from sessionware.backends.redis import RedisBackend

    return RedisBackend(env.redis_url, prefix=f"{env.run_id}:sw:")


def redis_cached_backend(env: Env) -> Any:
    from sessionware.backends.redis import RedisBackend

    return RedisBackend(env.redis_url, prefix=f"{env.run_id}:swc:", client_cache=True)


def sqlite_backend(env: Env) -> Any:
    from sessionware.backends.sql import SQLBackend

    return SQLBackend(f"sqlite:///{env.tmp / 'sessions.db'}")


def postgres_backend(env: Env) -> Any:
    from sessionware.backends.sql import SQLBackend

    return SQLBackend(env.postgres_url, table=f"{env.run_id}_sessions")


def _backend_aclose(backend: Any, env: Env) -> Callable[[], Awaitable[None]]:
    async def aclose() -> None:
        _drop_backend_data(backend, env)
        await backend.aclose()
        backend.close()

    return aclose


def _backend_close(backend: Any, env: Env) -> Callable[[], None]:
    def close() -> None:
        _drop_backend_data(backend, env)
        backend.close()

    return close


def _drop_backend_data(backend: Any, env: Env) -> None:
    """Remove what a run left in a shared store (Redis keys, SQL tables)."""
    name = type(backend).__name__
    if name == "RedisBackend":
        from redis import Redis

        client = Redis.from_url(env.redis_url)
        try:
            _delete_prefix(client, f"{env.run_id}:")
        finally:
            client.close()
    elif name == "SQLBackend":
        backend.metadata.drop_all(backend.engine)


def purge(env: Env, stores: set[str]) -> None:
    """Drop everything a run (and its server processes) left in shared stores and on disk."""
    import shutil

    if "postgres" in stores and _has("sqlalchemy") and _reachable(env.postgres_url):
        import sqlalchemy as sa

        engine = sa.create_engine(env.postgres_url)
        try:
            with engine.begin() as conn:
                names = conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE tablename LIKE :prefix"),
                    {"prefix": f"{env.run_id}%"},
                ).scalars()
                for table in list(names):
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        finally:
            engine.dispose()
    if "redis" in stores and _has("redis") and _reachable(env.redis_url):
        from redis import Redis

        client = Redis.from_url(env.redis_url)
        try:
            _delete_prefix(client, f"{env.run_id}:")
        finally:
            client.close()
    shutil.rmtree(env.tmp, ignore_errors=True)


def _delete_prefix(client: Any, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


async def _adelete_prefix(client: Any, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])


SW = "sessionware"
CONTENDERS: tuple[Contender, ...] = (
    # ASGI
    Contender("starlette", "asgi", "floor", _starlette_bare, quick=True, store="none"),
    Contender("starlette-session", "asgi", "peer", _starlette_session, quick=True, store="cookie"),
    Contender(
        "starsessions-memory", "asgi", "peer", _starsessions_memory, ("starsessions",), quick=True
    ),
    Contender(
        "starsessions-redis",
        "asgi",
        "peer",
        _starsessions_redis,
        ("starsessions", "redis"),
        ("redis",),
        quick=True,
        store="redis",
    ),
    Contender(
        "redis-bare",
        "asgi",
        "peer",
        bare_redis.asgi_factory(Built, _scope_session, _adelete_prefix),
        ("redis",),
        ("redis",),
        quick=True,
        store="redis",
    ),
    Contender("sessionware-memory", "asgi", SW, _sessionware_asgi(memory_backend), quick=True),
    Contender("sessionware-memory-lazy", "asgi", SW, _sessionware_asgi(memory_backend, "lazy")),
    Contender(
        "sessionware-redis",
        "asgi",
        SW,
        _sessionware_asgi(redis_backend),
        ("sessionware.backends.redis", "redis"),
        ("redis",),
        quick=True,
        store="redis",
    ),
    Contender(
        "sessionware-redis-lazy",
        "asgi",
        SW,
        _sessionware_asgi(redis_backend, "lazy"),
        ("sessionware.backends.redis", "redis"),
        ("redis",),
        store="redis",
    ),
    Contender(
        "sessionware-redis-cached",
        "asgi",
        SW,
        _sessionware_asgi(redis_cached_backend),
        ("sessionware.backends.redis", "redis"),
        ("redis",),
        store="redis",
    ),
    Contender(
        "sessionware-memory-bearer",
        "asgi",
        SW,
        _sessionware_bearer(memory_backend),
        ("sessionware.tokens", "jwt"),
        read_only=True,
    ),
    Contender(
        "sessionware-redis-bearer",
        "asgi",
        SW,
        _sessionware_bearer(redis_backend),
        ("sessionware.tokens", "jwt", "sessionware.backends.redis", "redis"),
        ("redis",),
        store="redis",
        read_only=True,
    ),
    Contender(
        "sessionware-sqlite",
        "asgi",
        SW,
        _sessionware_asgi(sqlite_backend),
        ("sessionware.backends.sql", "sqlalchemy"),
        store="sqlite",
    ),
    Contender(
        "sessionware-postgres",
        "asgi",
        SW,
        _sessionware_asgi(postgres_backend),
        ("sessionware.backends.sql", "sqlalchemy", "psycopg"),
        ("postgres",),
        store="postgres",
    ),
    # WSGI
    Contender("flask", "wsgi", "floor", _flask_bare, ("flask",), quick=True, store="none"),
    Contender(
        "flask-cookie", "wsgi", "peer", _flask_cookie, ("flask",), quick=True, store="cookie"
    ),
    Contender(
        "flask-session-redis",
        "wsgi",
        "peer",
        _flask_session_redis,
        ("flask", "flask_session", "redis"),
        ("redis",),
        quick=True,
        store="redis",
    ),
    Contender(
        "flask-redis-bare",
        "wsgi",
        "peer",
        bare_redis.wsgi_factory(Built, _delete_prefix),
        ("flask", "redis"),
        ("redis",),
        quick=True,
        store="redis",
    ),
    Contender(
        "sessionware-wsgi-memory",
        "wsgi",
        SW,
        _sessionware_wsgi(memory_backend),
        ("flask",),
        quick=True,
    ),
    Contender(
        "sessionware-wsgi-redis",
        "wsgi",
        SW,
        _sessionware_wsgi(redis_backend),
        ("flask", "sessionware.backends.redis", "redis"),
        ("redis",),
        quick=True,
        store="redis",
    ),
    Contender(
        "sessionware-wsgi-redis-cached",
        "wsgi",
        SW,
        _sessionware_wsgi(redis_cached_backend),
        ("flask", "sessionware.backends.redis", "redis"),
        ("redis",),
        store="redis",
    ),
    Contender(
        "sessionware-flask-memory",
        "wsgi",
        SW,
        _sessionware_flask(memory_backend),
        ("flask", "sessionware.integrations.flask"),
    ),
)

FLOORS = {"asgi": "starlette", "wsgi": "flask"}


def by_name(name: str) -> Contender:
    for contender in CONTENDERS:
        if contender.name == name:
            return contender
    raise KeyError(name)
