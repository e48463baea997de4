"""Flask's session contract, against Flask's own cookie session and ours side by side.

Each test runs one app twice: as Flask ships it (``SecureCookieSessionInterface``)
and with ``Sessionware(app)``, so a behaviour Flask apps rely on that we do
not keep is a failing pair.  Values are compared with what Flask's own
tagged-JSON serializer gives back, precision included.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionMixin
from markupsafe import Markup

from sessionware import ConfigError
from sessionware.integrations.flask import Sessionware

from .conftest import SECRET, attributes, cookie_named

VALUES: dict[str, Any] = {
    "datetime": datetime(2026, 12, 1, 10, 30, 15, 123456),
    "aware": datetime(2026, 12, 1, 10, 30, 15, tzinfo=UTC),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "bytes": b"\x00\xffbinary",
    "tuple": (1, "two", (3, 4)),
    "markup": Markup("<a href='/x'>link</a>"),
    "tag-like": {" t": [1, 2]},
    "nested": {"when": datetime(2020, 1, 2, 3, 4, 5), "ids": [uuid.UUID(int=7)]},
    "plain": {"a": [1, 2.5, None, True, "s"]},
}
Build = Callable[..., flask.Flask]


def canon(value: Any) -> Any:
    """``value`` with dict keys sorted (Flask's serializer sorts them; key order is not kept)."""
    if isinstance(value, dict):
        return {k: canon(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def flask_roundtrip(value: Any) -> Any:
    """What Flask's own session serializer gives back for ``value``."""
    serializer = TaggedJSONSerializer()
    return serializer.loads(serializer.dumps({"v": value}))["v"]


def make_app(ours: bool, settings: dict[str, Any] | None = None) -> flask.Flask:
    app = flask.Flask("compat")
    app.config["SECRET_KEY"] = SECRET
    app.config.update(settings or {})

    @app.post("/set/<name>")
    def put(name: str) -> str:
        flask.session[name] = VALUES[name]
        return ""

    @app.get("/get/<name>")
    def get(name: str) -> dict[str, Any]:
        value = flask.session[name]
        return {"type": type(value).__name__, "repr": repr(canon(value))}

    @app.post("/permanent")
    def permanent() -> str:
        flask.session.permanent = True
        flask.session["user"] = "ada"
        return ""

    @app.get("/facts")
    def facts() -> dict[str, Any]:
        session = flask.session._get_current_object()  # type: ignore[attr-defined]
        return {
            "new": session.new,
            "mixin": isinstance(session, SessionMixin),
            "permanent": session.permanent,
            "cookie_name": app.session_interface.get_cookie_name(app),
        }

    @app.post("/touch")
    def touch() -> dict[str, Any]:
        flask.session["x"] = 1
        return {"modified": flask.session.modified}

    @app.post("/flash")
    def flash() -> str:
        flask.flash(Markup("<b>saved</b>"), "success")
        flask.flash("plain <i>text</i>")
        return ""

    @app.get("/flashes")
    def flashes() -> dict[str, Any]:
        got = flask.get_flashed_messages(with_categories=True)
        return {"got": [[c, type(m).__name__, str(m)] for c, m in got]}

    if ours:
        Sessionware(app)
    return app


@pytest.fixture(params=["flask", "sessionware"])
def build(request: pytest.FixtureRequest) -> Build:
    return lambda settings=None: make_app(request.param == "sessionware", settings)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_roundtrip_as_flasks_serializer_does(build: Build, name: str) -> None:
    """Each tagged type comes back with Flask's type and value (datetimes: whole seconds, UTC)."""
    client = build().test_client()
    client.post(f"/set/{name}")
    expected = flask_roundtrip(VALUES[name])
    assert client.get(f"/get/{name}").json == {
        "type": type(expected).__name__,
        "repr": repr(canon(expected)),
    }


def test_flash_keeps_markup_and_categories(build: Build) -> None:
    """``flash(Markup(...), category)`` comes back as Markup with its category."""
    client = build().test_client()
    client.post("/flash")
    assert client.get("/flashes").json == {
        "got": [["success", "Markup", "<b>saved</b>"], ["message", "str", "plain <i>text</i>"]]
    }
    assert client.get("/flashes").json == {"got": []}


def test_new_mixin_and_permanent(build: Build) -> None:
    """``session.new``, ``SessionMixin`` and ``permanent`` read as in Flask."""
    client = build().test_client()
    first = client.get("/facts").json
    assert first["mixin"] is True and first["permanent"] is False
    assert isinstance(first["new"], bool)
    client.post("/permanent")
    later = client.get("/facts").json
    assert later["new"] is False and later["permanent"] is True


def test_new_is_true_only_for_a_fresh_session() -> None:
    """Ours: ``session.new`` tells a fresh session (Flask's cookie session always says False)."""
    client = make_app(True).test_client()
    assert client.get("/facts").json["new"] is True
    client.post("/touch")
    assert client.get("/facts").json["new"] is False


def test_modified_after_a_write(build: Build) -> None:
    """``session.modified`` is True after an assignment."""
    assert build().test_client().post("/touch").json == {"modified": True}


def test_permanent_gives_a_persistent_cookie_of_the_lifetime(build: Build) -> None:
    """``session.permanent = True``: the cookie lasts PERMANENT_SESSION_LIFETIME."""
    app = build({"PERMANENT_SESSION_LIFETIME": timedelta(days=3)})
    client = app.test_client()
    name = app.session_interface.get_cookie_name(app)
    header = cookie_named(client.post("/permanent"), name)
    assert header is not None
    expires = attributes(header)["expires"]
    left = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    remaining = left - datetime.now(UTC)
    assert timedelta(days=3) - timedelta(minutes=1) < remaining <= timedelta(days=3)


def test_non_permanent_is_a_browser_session_cookie(build: Build) -> None:
    """Without ``permanent`` the cookie has no expiry."""
    app = build()
    header = cookie_named(
        app.test_client().post("/touch"), app.session_interface.get_cookie_name(app)
    )
    assert header is not None
    assert "expires" not in attributes(header) and "max-age" not in attributes(header)


def test_get_cookie_name_is_the_cookies_name(build: Build) -> None:
    """``session_interface.get_cookie_name(app)`` names the cookie actually set."""
    app = build({"SESSION_COOKIE_NAME": "my_sess"})
    client = app.test_client()
    assert client.get("/facts").json["cookie_name"] == "my_sess"
    assert cookie_named(client.post("/touch"), "my_sess") is not None


@pytest.mark.parametrize(
    ("settings", "attribute", "value"),
    [
        ({"SESSION_COOKIE_SAMESITE": "None", "SESSION_COOKIE_SECURE": True}, "samesite", "None"),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, "samesite", "Strict"),
        ({"SESSION_COOKIE_PARTITIONED": True, "SESSION_COOKIE_SECURE": True}, "partitioned", ""),
        ({"SESSION_COOKIE_SECURE": True}, "secure", ""),
        ({"SESSION_COOKIE_DOMAIN": "example.com"}, "domain", "example.com"),
        ({"SESSION_COOKIE_PATH": "/shop"}, "path", "/shop"),
    ],
)
def test_cookie_settings(
    build: Build, settings: dict[str, Any], attribute: str, value: str
) -> None:
    """Every ``SESSION_COOKIE_*`` setting reaches the cookie as Flask sends it."""
    app = build(settings)
    client = app.test_client()
    response = client.post("/touch", base_url="https://localhost/shop")
    header = cookie_named(response, app.session_interface.get_cookie_name(app))
    assert header is not None
    assert attributes(header)[attribute].lstrip(".") == value


@pytest.mark.parametrize("key", ["SESSION_COOKIE_PARTITIONED", "SESSION_COOKIE_SAMESITE"])
def test_settings_that_need_secure_say_so(key: str) -> None:
    """PARTITIONED or SAMESITE='None' without SESSION_COOKIE_SECURE is a clear error (ours)."""
    value: Any = True if key.endswith("PARTITIONED") else "None"
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE=True"):
        make_app(True, {key: value})


def test_tagged_codec_for_asgi() -> None:
    """``codec="tagged"`` gives ASGI apps the same types; JSON stays the default there."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from sessionware import SessionMiddleware

    async def put(request: Request) -> PlainTextResponse:
        request.session["t"] = (1, b"x", uuid.UUID(int=1))
        return PlainTextResponse("")

    async def get(request: Request) -> PlainTextResponse:
        return PlainTextResponse(repr(request.session["t"]))

    app = Starlette(routes=[Route("/", put, methods=["POST"]), Route("/", get)])
    wrapped = SessionMiddleware(
        app, secret_keys=[SECRET], codec="tagged", secure=False, cookie_name="s"
    )
    client = TestClient(wrapped)
    client.post("/")
    assert client.get("/").text == repr((1, b"x", uuid.UUID(int=1)))
    with pytest.raises(TypeError):
        plain = TestClient(
            SessionMiddleware(app, secret_keys=[SECRET], secure=False, cookie_name="s")
        )
        plain.post("/")


def test_permanent_later_in_the_session_makes_the_cookie_persistent() -> None:
    """Setting ``permanent`` on an existing session re-sends its cookie with an expiry."""
    client = make_app(True).test_client()
    client.post("/touch")
    response = client.post("/permanent")
    header = cookie_named(response, "session")
    assert header is not None and "expires" in attributes(header)
    assert client.get("/facts").json["permanent"] is True


def test_permanent_cookie_is_renewed_as_its_expiry_slides() -> None:
    """Reads within ``touch_interval`` send no cookie; later ones renew its Max-Age."""
    from sessionware.testing import FakeClock

    clock = FakeClock()
    app = flask.Flask("slide")
    app.config.update(SECRET_KEY=SECRET, PERMANENT_SESSION_LIFETIME=timedelta(days=2))

    @app.post("/in")
    def sign_in() -> str:
        flask.session.permanent = True
        flask.session["user"] = "ada"
        return ""

    @app.get("/")
    def home() -> str:
        return str(flask.session.get("user"))

    Sessionware(app, clock=clock)
    client = app.test_client()
    client.post("/in")
    clock.advance(30)
    assert "Set-Cookie" not in client.get("/").headers
    clock.advance(3600)
    response = client.get("/")
    header = cookie_named(response, "session")
    assert response.text == "ada" and header is not None
    assert attributes(header)["max-age"] == str(2 * 86400)


@pytest.mark.parametrize(
    ("settings", "profile", "extra"),
    [
        ({}, "Flask profile", "idle_timeout 30 min->31 d"),
        ({"SESSION_TYPE": "null"}, "Flask-Session profile", "SESSION_PERMANENT=False"),
    ],
)
def test_relaxed_defaults_are_logged_in_one_line(
    caplog: pytest.LogCaptureFixture, settings: dict[str, Any], profile: str, extra: str
) -> None:
    """Flask and Flask-Session setups log one line of relaxed defaults and their restorers."""
    import logging

    with caplog.at_level(logging.WARNING, logger="sessionware"):
        make_app(True, settings)
    lines = [r.getMessage() for r in caplog.records if "relaxes native defaults" in r.getMessage()]
    assert len(lines) == 1 and profile in lines[0] and extra in lines[0]
    assert "SESSION_COOKIE_SECURE=True" in lines[0]


def test_flask_cookies_migrate_with_their_types() -> None:
    """``migrate_from="flask"``: Flask's cookie moves over with its tuple, Markup, permanence."""
    old = make_app(False)
    old_client = old.test_client()
    old_client.post("/set/tuple")
    old_client.post("/set/markup")
    old_client.post("/permanent")
    legacy = old_client.get_cookie("session")
    assert legacy is not None
    new = make_app(False)
    Sessionware(new, migrate_from="flask")
    client = new.test_client()
    client.set_cookie("session", legacy.value)
    assert client.get("/get/tuple").json == {"type": "tuple", "repr": repr(VALUES["tuple"])}
    assert client.get("/get/markup").json["type"] == "Markup"
    assert client.get("/facts").json["permanent"] is True


def test_refresh_each_request_false_counts_from_creation() -> None:
    """``SESSION_REFRESH_EACH_REQUEST=False``: the lifetime counts from creation, not use."""
    app = make_app(True, {"SESSION_REFRESH_EACH_REQUEST": False})
    config = app.extensions["sessionware"].middleware.config
    assert config.cookie_lifetime == "remember"
    assert config.remember_absolute_s == 31 * 86400
