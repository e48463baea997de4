"""Legacy cookie migration: real Starlette and Flask cookies become server-side sessions once."""

from __future__ import annotations

import datetime
import hashlib
import time
import uuid
from typing import Any

import flask
import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket
from werkzeug.test import Client

from sessionware import (
    BackendUnavailable,
    ConfigError,
    Event,
    MemoryBackend,
    SessionManager,
    SessionMiddleware,
    WSGISessionMiddleware,
)
from sessionware.integrations.migrate import LegacyCookie
from sessionware.migration import JOIN_WINDOW
from sessionware.records import ApplyResult
from sessionware.testing import FakeClock

from .conftest import OLD_SECRET, SECRET, attributes, cookie_named, set_cookies


async def show(request: Request) -> JSONResponse:
    return JSONResponse({"data": dict(request.session), "user": request.session.user_id})


async def legacy_login(request: Request) -> JSONResponse:
    request.session.update({"user": "ada", "cart": [1, 2], "n": 3})
    return JSONResponse({})


async def ws_show(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(dict(websocket.session))
    await websocket.close()


def starlette_cookie(secret: str = OLD_SECRET, **kwargs: Any) -> str:
    """A cookie minted by Starlette's own SessionMiddleware."""
    old = Starlette(
        routes=[Route("/login", legacy_login)],
        middleware=[Middleware(StarletteSessionMiddleware, secret_key=secret, **kwargs)],
    )
    response = TestClient(old).get("/login")
    header = cookie_named(response, kwargs.get("session_cookie", "session"))
    assert header is not None
    return header.split(";", 1)[0].split("=", 1)[1]


def flask_cookie(data: dict[str, Any], secret: str = OLD_SECRET) -> str:
    """A cookie minted by Flask's default session interface."""
    app = flask.Flask("legacy")
    app.secret_key = secret

    @app.post("/login")
    def login() -> str:
        flask.session.update(data)
        return ""

    response = app.test_client().post("/login")
    header = cookie_named(response, "session")
    assert header is not None
    return header.split(";", 1)[0].split("=", 1)[1]


class NewApp:
    """Our middleware on a Starlette app, called with explicit Cookie headers."""

    def __init__(self, **kwargs: Any) -> None:
        self.events: list[Event] = []
        backend = kwargs.pop("backend", None)
        self.backend = MemoryBackend() if backend is None else backend
        kwargs.setdefault("secret_keys", [SECRET])
        if kwargs["secret_keys"] is None:
            del kwargs["secret_keys"]
        app = Starlette(routes=[Route("/", show), WebSocketRoute("/ws", ws_show)])
        self.middleware = SessionMiddleware(
            app, backend=self.backend, on_event=self.events.append, **kwargs
        )
        self.client = TestClient(self.middleware, base_url="https://testserver")

    def get(self, cookie: str) -> Any:
        self.client.cookies.clear()
        return self.client.get("/", headers={"cookie": cookie})

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def new_cookie(response: Any, name: str = "__Host-session") -> str:
    header = cookie_named(response, name)
    assert header is not None, set_cookies(response)
    return header.split(";", 1)[0]


def test_starlette_cookie_becomes_a_server_side_session() -> None:
    """A valid Starlette cookie's data moves server-side; the old cookie is expired."""
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET)
    response = app.get(f"session={starlette_cookie()}")
    assert response.json()["data"] == {"user": "ada", "cart": [1, 2], "n": 3}
    deletion = cookie_named(response, "session")
    assert deletion is not None and attributes(deletion)["max-age"] == "0"
    again = app.get(new_cookie(response))
    assert again.json()["data"] == {"user": "ada", "cart": [1, 2], "n": 3}
    assert set_cookies(again) == []


def test_a_migrated_cookie_is_not_migrated_twice() -> None:
    """Replaying the old cookie after the join window yields nothing and an event."""
    clock = FakeClock(time.time())
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET, clock=clock)
    old = f"session={starlette_cookie()}"
    app.get(old)
    clock.advance(JOIN_WINDOW + 1)
    replay = app.get(old)
    assert replay.json()["data"] == {}
    assert cookie_named(replay, "__Host-session") is None
    assert cookie_named(replay, "session") is not None
    refused = [e for e in app.events if e.detail.get("reason") == "already migrated"]
    assert refused and refused[0].kind == "unknown_id"


def test_tampered_legacy_cookie_is_dropped() -> None:
    """A forged old cookie migrates nothing, is expired, and raises bad_signature."""
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET)
    forged = starlette_cookie(secret="someone-elses-secret")
    response = app.get(f"session={forged}")
    assert response.json()["data"] == {}
    assert cookie_named(response, "session") is not None
    assert "bad_signature" in app.kinds()
    assert len(app.backend) == 0


def test_expired_legacy_cookie_is_dropped() -> None:
    """An old cookie past the old max_age migrates nothing."""

    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 15 * 86400

    value = Old(OLD_SECRET).sign(b"eyJ1c2VyIjogImFkYSJ9").decode()  # {"user": "ada"}
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET)
    response = app.get(f"session={value}")
    assert response.json()["data"] == {}
    assert cookie_named(response, "session") is not None
    assert "expired" in app.kinds()


def test_a_live_session_wins_over_a_legacy_cookie() -> None:
    """With both cookies present, the server-side session is used and the old one dropped."""
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET)
    ours = new_cookie(app.get(f"session={starlette_cookie()}"))
    fresh_legacy = starlette_cookie()
    response = app.get(f"{ours}; session={fresh_legacy}")
    assert response.json()["data"]["user"] == "ada"
    assert cookie_named(response, "session") is not None
    assert cookie_named(response, "__Host-session") is None


def test_starlette_mode_reuses_secret_key_for_the_old_cookies() -> None:
    """With Starlette keywords, the old ``secret_key`` verifies old cookies by default."""
    old = starlette_cookie(secret=SECRET)
    app = NewApp(secret_keys=None, secret_key=SECRET, migrate_from="starlette")
    assert app.get(f"session={old}").json()["data"]["user"] == "ada"


def test_same_cookie_name_is_replaced_not_reported_as_forgery() -> None:
    """When old and new cookies share a name, the new cookie overwrites the old one."""
    app = NewApp(
        secret_keys=None,
        secret_key=SECRET,
        https_only=False,
        migrate_from="starlette",
    )
    response = app.get(f"session={starlette_cookie(secret=SECRET)}")
    assert response.json()["data"]["user"] == "ada"
    headers = [h for h in set_cookies(response) if h.startswith("session=")]
    assert len(headers) == 1 and "max-age=0" not in headers[0].lower()
    assert "bad_signature" not in app.kinds()
    assert app.get(new_cookie(response, "session")).json()["data"]["user"] == "ada"


def test_websocket_does_not_migrate() -> None:
    """A websocket cannot set cookies, so it neither migrates nor consumes the old cookie."""
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET)
    old = f"session={starlette_cookie()}"
    with app.client.websocket_connect("/ws", headers={"cookie": old}) as ws:
        assert ws.receive_json() == {}
    assert app.get(old).json()["data"]["user"] == "ada"


class DownOnCreate(MemoryBackend):
    """A store that refuses writes (as when it is unreachable)."""

    async def aapply(self, ops: Any, now: float) -> ApplyResult:
        raise BackendUnavailable("store down")

    def apply(self, ops: Any, now: float) -> ApplyResult:
        raise BackendUnavailable("store down")


def test_store_down_keeps_the_old_cookie() -> None:
    """If the one-time marker cannot be written, the old cookie stays for the next try."""
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET, backend=DownOnCreate())
    response = app.get(f"session={starlette_cookie()}")
    assert response.json()["data"] == {}
    assert cookie_named(response, "session") is None


def test_flask_cookie_is_migrated_with_tags_made_plain() -> None:
    """Flask's tagged JSON (tuple, datetime, UUID, bytes) arrives as plain JSON values."""
    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cookie = flask_cookie(
        {"pair": (1, 2), "when": when, "id": ident, "raw": b"\x00\x01", " t": "escaped"}
    )
    app = NewApp(migrate_from="flask", legacy_secret=OLD_SECRET)
    data = app.get(f"session={cookie}").json()["data"]
    assert data == {
        "pair": [1, 2],
        "when": "2024-05-01T12:30:00+00:00",
        "id": str(ident),
        "raw": "AAE=",
        " t": "escaped",
    }


def test_compressed_flask_cookie_is_migrated() -> None:
    """Large Flask sessions are zlib-compressed; they migrate too."""
    cookie = flask_cookie({"notes": "a" * 600})
    assert cookie.startswith(".")
    app = NewApp(migrate_from="flask", legacy_secret=OLD_SECRET)
    assert app.get(f"session={cookie}").json()["data"] == {"notes": "a" * 600}


def test_flask_fallback_secrets_verify() -> None:
    """Cookies signed with an older Flask key (SECRET_KEY_FALLBACKS) still migrate."""
    cookie = flask_cookie({"a": 1}, secret="an-even-older-secret")
    app = NewApp(migrate_from="flask", legacy_secret=[OLD_SECRET, "an-even-older-secret"])
    assert app.get(f"session={cookie}").json()["data"] == {"a": 1}


def test_user_key_logs_the_migrated_session_in() -> None:
    """``user_key`` turns the old user marker into a real login, visible to SessionManager."""
    cookie = flask_cookie({"_user_id": "42", "_fresh": True})
    spec = LegacyCookie(kind="flask", secret=OLD_SECRET, user_key="_user_id")
    app = NewApp(migrate_from=spec)
    response = app.get(f"session={cookie}")
    assert response.json()["user"] == "42"
    assert [s.user_id for s in SessionManager(app.backend).list_sessions("42")] == ["42"]


def test_flask_cookie_migrates_through_the_wsgi_adapter() -> None:
    """The WSGI adapter migrates the same way (sync backend face)."""
    backend = MemoryBackend()

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["sessionware.session"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(sorted(session.items())).encode()]

    middleware = WSGISessionMiddleware(
        wsgi_app,
        secret_keys=[SECRET],
        backend=backend,
        migrate_from="flask",
        legacy_secret=OLD_SECRET,
    )
    client = Client(middleware)
    client.set_cookie("session", flask_cookie({"a": 1}))
    response = client.get("/", base_url="https://localhost")
    assert response.get_data() == b"[('a', 1)]"
    assert any(h.startswith("__Host-session=") for h in response.headers.getlist("Set-Cookie"))
    deletion = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert deletion and "Max-Age=0" in deletion[0]


def test_marker_key_is_a_hash_not_the_cookie() -> None:
    """The store holds a hash of the migrated cookie, never the cookie itself."""
    app = NewApp(migrate_from="starlette", legacy_secret=OLD_SECRET)
    value = starlette_cookie()
    app.get(f"session={value}")
    keys = set(app.backend._records)
    digest = hashlib.sha256(b"sessionware.legacy-cookie\x00" + value.encode()).hexdigest()
    assert digest in keys
    assert not any(value in k for k in keys)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"migrate_from": "flask"}, "legacy_secret", id="no-secret"),
        pytest.param({"legacy_secret": OLD_SECRET}, "without migrate_from", id="no-source"),
        pytest.param({"migrate_from": "django", "legacy_secret": "x"}, "starlette", id="kind"),
        pytest.param(
            {"migrate_from": LegacyCookie("flask", OLD_SECRET), "legacy_secret": "x"},
            "inside LegacyCookie",
            id="twice",
        ),
    ],
)
def test_bad_migration_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """Incomplete or contradictory migration settings fail at construction."""
    with pytest.raises(ConfigError, match=message):
        SessionMiddleware(Starlette(), secret_keys=[SECRET], **kwargs)
