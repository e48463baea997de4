"""Switch day from the server-side peers: Flask-Session and starsessions write real sessions
into real Redis / SQL, then sessionware takes them over with ``migrate_from=``.

Also the race the issue names: parallel requests carrying one legacy cookie
(Flask-Session, starsessions, and Starlette's signed cookie) all land in one
new session, and no response deletes the cookie another one just set.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
import redis
import redis.asyncio as aioredis
from flask_session import Session as FlaskSessionExt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starsessions import SessionAutoloadMiddleware
from starsessions import SessionMiddleware as StarSessionMiddleware
from starsessions.stores.redis import RedisStore
from werkzeug.test import Client

from sessionware import ConfigError, MemoryBackend, SessionMiddleware
from sessionware.backends import RedisBackend
from sessionware.integrations.flask import Sessionware
from sessionware.migration import StarsessionsRedis

SECRET = "switch-day-secret-0123456789abcdefghijkl"


def _cookie(headers: Any, name: str = "session") -> str | None:
    values = (
        headers.getlist("Set-Cookie")
        if hasattr(headers, "getlist")
        else headers.get_list("set-cookie")
    )
    for header in values:
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    return None


# -- Flask-Session -------------------------------------------------------------------------


def flask_app(settings: dict[str, Any], *, ours: bool, **kwargs: Any) -> flask.Flask:
    app = flask.Flask("shop")
    app.config["SECRET_KEY"] = SECRET
    app.config.update(settings)

    @app.post("/login")
    def login() -> str:
        flask.session.permanent = True
        flask.session["user"] = "ada"
        flask.session["cart"] = [1, 2]
        flask.session["since"] = datetime(2026, 11, 30, 8, 0, 0)
        return ""

    @app.get("/")
    def home() -> dict[str, Any]:
        return {
            "user": flask.session.get("user"),
            "cart": flask.session.get("cart"),
            "since": str(flask.session.get("since")),
            "permanent": flask.session.permanent,
        }

    if ours:
        Sessionware(app, **kwargs)
    else:
        FlaskSessionExt(app)
    return app


@pytest.fixture
def fs_settings(redis_url: str, redis_prefix: str) -> dict[str, Any]:
    return {
        "SESSION_TYPE": "redis",
        "SESSION_REDIS": redis.Redis.from_url(redis_url),
        "SESSION_KEY_PREFIX": redis_prefix + "fs:",
    }


def legacy_flask_session(settings: dict[str, Any]) -> str:
    """Sign in under Flask-Session itself; the cookie it sets."""
    response = flask_app(settings, ours=False).test_client().post("/login")
    sid = _cookie(response.headers)
    assert sid
    return sid


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_flask_session_redis_users_stay_signed_in(fs_settings: dict[str, Any], fmt: str) -> None:
    """A Flask-Session (Redis) session becomes ours: data, permanence; the old record is gone."""
    fs_settings["SESSION_SERIALIZATION_FORMAT"] = fmt
    sid = legacy_flask_session(fs_settings)
    legacy_key = fs_settings["SESSION_KEY_PREFIX"] + sid
    assert fs_settings["SESSION_REDIS"].exists(legacy_key)
    app = flask_app(fs_settings, ours=True, migrate_from="flask-session")
    client = Client(app)
    client.set_cookie("session", sid)
    first = client.get("/")
    assert first.json == {
        "user": "ada",
        "cart": [1, 2],
        "since": "2026-11-30T08:00:00",  # what Flask-Session's msgspec itself gives back
        "permanent": True,
    }
    new = _cookie(first.headers)
    assert new and new != sid and "Expires=" in first.headers["Set-Cookie"]
    assert not fs_settings["SESSION_REDIS"].exists(legacy_key)
    assert client.get("/").json["user"] == "ada"


def test_flask_session_parallel_requests_land_in_one_session(fs_settings: dict[str, Any]) -> None:
    """Eight requests at once with one Flask-Session cookie: one new session, one cookie value."""
    sid = legacy_flask_session(fs_settings)
    app = flask_app(fs_settings, ours=True, migrate_from="flask-session")
    backend = app.extensions["sessionware"].backend
    results: list[Any] = []
    gate = threading.Barrier(8)

    def visit() -> None:
        client = Client(app)
        client.set_cookie("session", sid)
        gate.wait()
        results.append(client.get("/"))

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = {_cookie(r.headers) for r in results} - {None}
    assert len(values) == 1, values
    (value,) = values
    assert value != "", "no response may delete the cookie another one set"
    final = Client(app)
    final.set_cookie("session", value)
    assert final.get("/").json["user"] == "ada"
    assert isinstance(backend, RedisBackend)


def test_pickled_legacy_records_are_refused_unless_opted_in(fs_settings: dict[str, Any]) -> None:
    """Older Flask-Session pickled; pickle is refused, then read builtins-only on request."""
    client = fs_settings["SESSION_REDIS"]
    prefix = fs_settings["SESSION_KEY_PREFIX"]
    client.set(prefix + "oldsid", pickle.dumps({"user": "grace", "_permanent": True}), ex=600)

    class Evil:
        def __reduce__(self) -> Any:
            return (print, ("pwned",))

    client.set(prefix + "evilsid", pickle.dumps({"x": Evil()}), ex=600)
    refused = Client(flask_app(fs_settings, ours=True, migrate_from="flask-session"))
    refused.set_cookie("session", "oldsid")
    assert refused.get("/").json["user"] is None
    allowed_app = flask_app(
        fs_settings, ours=True, migrate_from="flask-session", legacy_allow_pickle=True
    )
    allowed = Client(allowed_app)
    allowed.set_cookie("session", "oldsid")
    assert allowed.get("/").json["user"] == "grace"
    evil = Client(allowed_app)
    evil.set_cookie("session", "evilsid")
    assert evil.get("/").json["user"] is None
    assert client.exists(prefix + "evilsid")


def test_flask_session_sqlalchemy_users_stay_signed_in(tmp_path: Path) -> None:
    """A Flask-Session (SQLAlchemy) session in a real SQLite file becomes ours."""
    from flask_sqlalchemy import SQLAlchemy

    def settings(app: flask.Flask) -> dict[str, Any]:
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'app.db'}"
        db = SQLAlchemy(app)
        return {"SESSION_TYPE": "sqlalchemy", "SESSION_SQLALCHEMY": db}

    old = flask.Flask("old")
    old.config["SECRET_KEY"] = SECRET
    old.config.update(settings(old))

    @old.post("/login")
    def login() -> str:
        flask.session["user"] = "ada"
        return ""

    with old.app_context():
        FlaskSessionExt(old)
    sid = _cookie(old.test_client().post("/login").headers)
    assert sid
    new = flask.Flask("new")
    new.config["SECRET_KEY"] = SECRET
    new.config.update(settings(new))

    @new.get("/")
    def home() -> dict[str, Any]:
        return {"user": flask.session.get("user")}

    with new.app_context():
        Sessionware(new, migrate_from="flask-session")
    client = Client(new)
    client.set_cookie("session", sid)
    assert client.get("/").json == {"user": "ada"}
    assert client.get("/").json == {"user": "ada"}


def test_flask_session_config_is_understood(fs_settings: dict[str, Any]) -> None:
    """SESSION_TYPE='redis' builds a RedisBackend under SESSION_KEY_PREFIX; new sessions are
    permanent (SESSION_PERMANENT=True, Flask-Session's default)."""
    app = flask_app(fs_settings, ours=True)
    backend = app.extensions["sessionware"].backend
    assert isinstance(backend, RedisBackend) and backend.prefix == fs_settings["SESSION_KEY_PREFIX"]

    @app.post("/note")
    def note() -> str:
        flask.session["n"] = 1
        return ""

    response = app.test_client().post("/note")
    assert "Expires=" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"SESSION_TYPE": "cachelib"}, "RedisBackend"),
        ({"SESSION_TYPE": "filesystem"}, "SQLBackend"),
        ({"SESSION_TYPE": "redis", "SESSION_ID_LENGTH": 64}, "SESSION_ID_LENGTH"),
        ({"SESSION_TYPE": "mongodb"}, "SESSION_TYPE='mongodb'"),
    ],
)
def test_unsupported_flask_session_settings_are_named(settings: dict[str, Any], named: str) -> None:
    """What sessionware cannot honour is a ConfigError naming it and what to use instead."""
    with pytest.raises(ConfigError, match=named):
        flask_app(settings, ours=True)


# -- starsessions -------------------------------------------------------------------------


async def star_login(request: Request) -> JSONResponse:
    request.session["user"] = "ada"
    request.session["roles"] = ["admin"]
    return JSONResponse({})


async def star_home(request: Request) -> JSONResponse:
    return JSONResponse(
        {"user": request.session.get("user"), "roles": request.session.get("roles")}
    )


def star_routes() -> list[Route]:
    return [Route("/login", star_login, methods=["POST"]), Route("/", star_home)]


def legacy_starsessions(redis_url: str, prefix: str) -> str:
    """Sign in under starsessions itself (its RedisStore); the cookie it sets."""
    connection = aioredis.Redis.from_url(redis_url)
    old = Starlette(
        routes=star_routes(),
        middleware=[
            Middleware(
                StarSessionMiddleware,
                store=RedisStore(connection=connection, prefix=prefix),
                lifetime=3600,
                cookie_https_only=False,
            ),
            Middleware(SessionAutoloadMiddleware),
        ],
    )
    with TestClient(old) as client:
        sid = _cookie(client.post("/login").headers)
        assert client.portal is not None
        client.portal.call(connection.aclose)
    assert sid
    return sid


def star_new(redis_url: str, prefix: str) -> Starlette:
    return Starlette(
        routes=star_routes(),
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_keys=[SECRET],
                cookie_name="session",
                secure="auto",
                migrate_from="starsessions",
                # A sync client: these tests run several event loops (the async
                # face then reads in a worker thread).
                legacy_store=StarsessionsRedis(
                    client=redis.Redis.from_url(redis_url), prefix=prefix
                ),
            )
        ],
    )


def test_starsessions_users_stay_signed_in(redis_url: str, redis_prefix: str) -> None:
    """A starsessions (Redis) session becomes ours and its Redis key is deleted."""
    prefix = redis_prefix + "star:"
    sid = legacy_starsessions(redis_url, prefix)
    assert redis.Redis.from_url(redis_url).exists(prefix + sid)
    with TestClient(star_new(redis_url, prefix)) as client:
        client.cookies.set("session", sid)
        first = client.get("/")
        assert first.json() == {"user": "ada", "roles": ["admin"]}
        new = _cookie(first.headers)
        assert new and new != sid
        assert client.get("/").json()["user"] == "ada"
    assert not redis.Redis.from_url(redis_url).exists(prefix + sid)


def test_starsessions_parallel_requests_land_in_one_session(
    redis_url: str, redis_prefix: str
) -> None:
    """Eight concurrent requests with one starsessions cookie share one new cookie value."""
    prefix = redis_prefix + "star:"
    sid = legacy_starsessions(redis_url, prefix)
    app = star_new(redis_url, prefix)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return list(
                await asyncio.gather(
                    *(c.get("/", headers={"cookie": f"session={sid}"}) for _ in range(8))
                )
            )

    responses = asyncio.run(run())
    values = {_cookie(r.headers) for r in responses} - {None}
    assert len(values) == 1 and "" not in values, values
    (value,) = values
    after = asyncio.run(_get(app, value))
    assert after["user"] == "ada"


async def _get(app: Starlette, value: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers={"cookie": f"session={value}"})
    data: dict[str, Any] = response.json()
    return data


# -- Starlette's signed cookie: the same race ---------------------------------------------


def test_starlette_cookie_parallel_requests_land_in_one_session() -> None:
    """Parallel requests with one Starlette cookie all get the same new cookie; none deletes it."""
    old = Starlette(
        routes=star_routes(), middleware=[Middleware(StarletteSessionMiddleware, secret_key=SECRET)]
    )
    legacy = _cookie(TestClient(old).post("/login").headers)
    assert legacy
    app = Starlette(
        routes=star_routes(),
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=SECRET,
                migrate_from="starlette",
                backend=MemoryBackend(),
            )
        ],
    )

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return list(
                await asyncio.gather(
                    *(c.get("/", headers={"cookie": f"session={legacy}"}) for _ in range(8))
                )
            )

    responses = asyncio.run(run())
    values = {_cookie(r.headers) for r in responses} - {None}
    assert len(values) == 1 and "" not in values, values
    (value,) = values
    assert asyncio.run(_get(app, value))["user"] == "ada"


def test_a_late_replay_is_still_refused() -> None:
    """After the join window, the old cookie no longer opens the new session."""
    from sessionware.migration import JOIN_WINDOW
    from sessionware.testing import FakeClock

    old = Starlette(
        routes=star_routes(), middleware=[Middleware(StarletteSessionMiddleware, secret_key=SECRET)]
    )
    legacy = _cookie(TestClient(old).post("/login").headers)
    clock = FakeClock()
    app = Starlette(
        routes=star_routes(),
        middleware=[
            Middleware(SessionMiddleware, secret_key=SECRET, migrate_from="starlette", clock=clock)
        ],
    )
    client = TestClient(app)
    assert client.get("/", headers={"cookie": f"session={legacy}"}).json()["user"] == "ada"
    clock.advance(JOIN_WINDOW + 1)
    client.cookies.clear()
    assert client.get("/", headers={"cookie": f"session={legacy}"}).json()["user"] is None


def test_profile_renews_max_age_on_redis(redis_url: str, redis_prefix: str) -> None:
    """On Redis (which slides expiry inside its read) the profile still renews Max-Age."""
    from sessionware.testing import FakeClock

    clock = FakeClock()
    app = Starlette(
        routes=star_routes(),
        middleware=[
            Middleware(
                SessionMiddleware,
                SECRET,
                max_age=3600,
                clock=clock,
                backend=RedisBackend(redis_url, prefix=redis_prefix),
            )
        ],
    )
    with TestClient(app) as client:
        client.post("/login")
        clock.advance(30)
        assert "set-cookie" not in client.get("/").headers
        clock.advance(61)
        response = client.get("/")
        assert response.json()["user"] == "ada"
        assert "Max-Age=3600" in response.headers["set-cookie"]


def test_flask_session_signed_ids_are_read(fs_settings: dict[str, Any]) -> None:
    """``SESSION_USE_SIGNER=True`` (Flask-Session's signed sid cookie) migrates too."""
    import warnings

    fs_settings["SESSION_USE_SIGNER"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sid = legacy_flask_session(fs_settings)
    assert "." in sid
    client = Client(flask_app(fs_settings, ours=True, migrate_from="flask-session"))
    client.set_cookie("session", sid)
    assert client.get("/").json["user"] == "ada"
    forged = Client(flask_app(fs_settings, ours=True, migrate_from="flask-session"))
    forged.set_cookie("session", sid.split(".")[0] + ".forged")
    assert forged.get("/").json["user"] is None
