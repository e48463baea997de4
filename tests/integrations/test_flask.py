"""Flask: ``flask.session`` is a sessionware session, through the test client and ``flask run``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest

from sessionware import ConfigError, MemoryBackend, Session
from sessionware.integrations.flask import Sessionware, current_session

from .conftest import SECRET, attributes, cookie_named


def make_app(settings: dict[str, Any] | None = None, **kwargs: Any) -> flask.Flask:
    app = flask.Flask("demo")
    app.config["SECRET_KEY"] = SECRET
    app.config.update(settings or {})

    @app.get("/")
    def show() -> dict[str, Any]:
        return {
            "data": dict(flask.session),
            "user": flask.session.user_id,  # type: ignore[attr-defined]
            "kind": type(flask.session._get_current_object()).__name__,  # type: ignore[attr-defined]
        }

    @app.post("/count")
    def count() -> dict[str, int]:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return {"n": flask.session["n"]}

    @app.post("/login")
    def login() -> str:
        flask.session.login(flask.request.args.get("user", "ada"))  # type: ignore[attr-defined]
        return ""

    @app.post("/logout")
    def logout() -> str:
        flask.session.logout()  # type: ignore[attr-defined]
        return ""

    @app.post("/regenerate")
    def regenerate() -> str:
        flask.session.regenerate()  # type: ignore[attr-defined]
        return ""

    Sessionware(app, **kwargs)
    return app


def the_cookie(app: flask.Flask) -> str:
    response = app.test_client().post("/count")
    name = app.extensions["sessionware"].middleware.config.cookie_name
    header = cookie_named(response, name)
    assert header is not None
    return header


def test_flask_session_is_a_sessionware_session() -> None:
    """Inside a view, ``flask.session`` is our Session, counting across requests."""
    client = make_app().test_client()
    assert client.get("/").json["kind"] == "FlaskSession"
    assert client.post("/count").json == {"n": 1}
    assert client.post("/count").json == {"n": 2}
    assert client.get("/").json["data"] == {"n": 2}


def test_default_cookie_is_secure_exactly_over_https() -> None:
    """Flask's ``SESSION_COOKIE_SECURE=False``: Secure over HTTPS only; SameSite is explicit."""
    app = make_app()
    attrs = attributes(the_cookie(app))
    assert "secure" not in attrs and "httponly" in attrs
    assert attrs["samesite"] == "Lax" and attrs["path"] == "/"
    response = app.test_client().post("/count", base_url="https://localhost")
    header = cookie_named(response, "session")
    assert header is not None and "secure" in attributes(header)


def test_login_logout_regenerate_through_flask_session() -> None:
    """The session's intents work from Flask views: login, regenerate, logout."""
    app = make_app()
    client = app.test_client()
    client.post("/count")
    client.post("/login", query_string={"user": "grace"})
    assert client.get("/").json["user"] == "grace"
    before = client.get_cookie("session")
    client.post("/regenerate")
    after = client.get_cookie("session")
    assert before is not None and after is not None and before.value != after.value
    assert client.get("/").json == {"data": {"n": 1}, "user": "grace", "kind": "FlaskSession"}
    response = client.post("/logout")
    assert "Max-Age=0" in (cookie_named(response, "session") or "")
    assert client.get("/").json["user"] is None
    assert len(app.extensions["sessionware"].backend) == 0


@pytest.mark.parametrize(
    ("settings", "name", "expected"),
    [
        pytest.param(
            {"SESSION_COOKIE_NAME": "__Host-app", "SESSION_COOKIE_SECURE": True},
            "__Host-app",
            {},
            id="name",
        ),
        pytest.param(
            {"SESSION_COOKIE_SAMESITE": "Strict"}, "session", {"samesite": "Strict"}, id="ss"
        ),
        pytest.param(
            {"SESSION_COOKIE_DOMAIN": "example.com"},
            "session",
            {"domain": "example.com"},
            id="domain",
        ),
        pytest.param({"SESSION_COOKIE_PATH": "/app"}, "session", {"path": "/app"}, id="path"),
        pytest.param({"APPLICATION_ROOT": "/root"}, "session", {"path": "/root"}, id="root"),
        pytest.param({"SESSION_COOKIE_SECURE": True}, "__Host-session", {"secure": ""}, id="sec"),
    ],
)
def test_flask_cookie_settings_are_honoured(
    settings: dict[str, Any], name: str, expected: dict[str, str]
) -> None:
    """``SESSION_COOKIE_*`` settings map onto the cookie, keeping the strongest valid prefix."""
    app = make_app(settings)
    header = the_cookie(app)
    assert header.startswith(f"{name}=")
    attrs = attributes(header)
    for key, value in expected.items():
        assert attrs[key] == value


def test_httponly_false_is_honoured() -> None:
    """An explicit ``SESSION_COOKIE_HTTPONLY = False`` is respected (and flagged by audit)."""
    assert "httponly" not in attributes(the_cookie(make_app({"SESSION_COOKIE_HTTPONLY": False})))


def test_keywords_win_over_flask_settings() -> None:
    """``secure=False`` is how to opt into plain HTTP; the cookie becomes ``session``."""
    app = make_app({"SESSION_COOKIE_SAMESITE": "Strict"}, secure=False, same_site="lax")
    header = the_cookie(app)
    assert header.startswith("session=")
    attrs = attributes(header)
    assert "secure" not in attrs and attrs["samesite"] == "Lax"


def test_permanent_lifetime_is_the_idle_limit() -> None:
    """``PERMANENT_SESSION_LIFETIME`` is how long Flask keeps an unused session: the idle limit."""
    app = make_app({"PERMANENT_SESSION_LIFETIME": timedelta(days=7)})
    config = app.extensions["sessionware"].middleware.config
    assert config.remember_s == 7 * 86400 and config.idle_s == 7 * 86400
    short = make_app({"PERMANENT_SESSION_LIFETIME": 600})
    config = short.extensions["sessionware"].middleware.config
    assert config.idle_s == 600


def test_session_transaction_writes_and_reads() -> None:
    """The test client's ``session_transaction()`` edits the real server-side session."""
    client = make_app().test_client()
    with client.session_transaction() as session:
        assert isinstance(session, Session)
        session["n"] = 41
    assert client.post("/count").json == {"n": 42}
    with client.session_transaction() as session:
        assert session["n"] == 42


def test_current_session_is_the_typed_flask_session() -> None:
    """``current_session()`` is ``flask.session`` typed as ours; without the extension it fails."""
    app = make_app()
    with app.test_request_context("/"):
        assert current_session() is flask.session._get_current_object()  # type: ignore[attr-defined]
    bare = flask.Flask("bare")
    bare.secret_key = SECRET
    with bare.test_request_context("/"), pytest.raises(RuntimeError, match="Sessionware"):
        current_session()


def test_test_request_context_has_a_session() -> None:
    """``test_request_context()`` gives a usable (anonymous) session."""
    app = make_app()
    with app.test_request_context("/"):
        assert isinstance(flask.session._get_current_object(), Session)  # type: ignore[attr-defined]
        assert flask.session.user_id is None  # type: ignore[attr-defined]


def test_url_session_ids_are_refused() -> None:
    """``?sessionid=`` in the URL is answered 400 before Flask runs (FX-01)."""
    query = {"sessionid": "kR3v9xQe0YwT2bN7mLp4sHz8"}  # a value that could be an ID (#13)
    response = make_app().test_client().get("/", query_string=query)
    assert response.status_code == 400


def test_manager_lists_the_users_sessions() -> None:
    """``Sessionware.manager`` lists sessions for a "your sessions" page."""
    backend = MemoryBackend()
    app = make_app(backend=backend)
    for _ in range(2):
        app.test_client().post("/login", query_string={"user": "ada"})
    sessions = app.extensions["sessionware"].manager.list_sessions("ada")
    assert len(sessions) == 2 and sessions[0].agent


def test_existing_flask_cookies_migrate() -> None:
    """Users signed in under Flask's cookie session keep their data after the switch."""
    old = flask.Flask("old")
    old.config["SECRET_KEY"] = SECRET

    @old.post("/")
    def put() -> str:
        flask.session["n"] = 7
        return ""

    legacy = cookie_named(old.test_client().post("/"), "session")
    assert legacy is not None
    app = make_app(migrate_from="flask")
    client = app.test_client()
    client.set_cookie("session", legacy.split(";")[0].split("=", 1)[1])
    assert client.post("/count").json == {"n": 8}
    new = client.get_cookie("session")
    assert new is not None and new.value != legacy.split(";")[0].split("=", 1)[1]
    assert client.get("/").json["data"] == {"n": 8}


def test_missing_or_short_secret_is_refused() -> None:
    """No SECRET_KEY, or a short one, fails at ``Sessionware(app)`` with a hint."""
    app = flask.Flask("x")
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        Sessionware(app)
    app.config["SECRET_KEY"] = "dev"
    with pytest.raises(ConfigError, match="keygen"):
        Sessionware(app)


def test_init_app_pattern() -> None:
    """``ext = Sessionware(); ext.init_app(app)`` works like the one-liner."""
    ext = Sessionware(idle_timeout=600)
    app = flask.Flask("factory")
    app.config["SECRET_KEY"] = SECRET
    ext.init_app(app)
    assert ext.middleware is not None and ext.middleware.config.idle_s == 600


APP_MODULE = """
import flask
from sessionware.integrations.flask import Sessionware, current_session

app = flask.Flask(__name__)
app.config["SECRET_KEY"] = {secret!r}
Sessionware(app)

@app.post("/count")
def count():
    flask.session["n"] = flask.session.get("n", 0) + 1
    return {{"n": flask.session["n"]}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_works_under_flask_run(tmp_path: Path) -> None:
    """The extension serves real HTTP under ``flask run``."""
    (tmp_path / "flaskapp.py").write_text(textwrap.dedent(APP_MODULE.format(secret=SECRET)))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).parents[2])]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "flaskapp", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/count"
        for _ in range(100):
            try:
                first = httpx.post(url)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        else:
            pytest.fail("flask run did not start")
        header = cookie_named(first, "session")
        assert first.json() == {"n": 1} and header is not None
        second = httpx.post(url, headers={"cookie": header.split(";")[0]})
        assert second.json() == {"n": 2}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
