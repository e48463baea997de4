"""The notes app's tests, run on Flask's own session and under ``Sessionware(app)``."""

from __future__ import annotations

import flask
import pytest

from sessionware.integrations.flask import Sessionware

from .notes import create_app


@pytest.fixture(params=["flask", "sessionware"])
def app(request: pytest.FixtureRequest) -> flask.Flask:
    app = create_app()
    if request.param == "sessionware":
        Sessionware(app)
    return app


def test_login_flashes_markup_and_keeps_types(app: flask.Flask) -> None:
    """After login the greeting is Markup, the datetime a datetime, the tuple a tuple."""
    home = app.test_client().post("/login", data={"name": "Ada"}, follow_redirects=True).json
    assert home == {
        "user": "Ada",
        "remembered": False,
        "since_is_datetime": True,
        "position_is_tuple": True,
        "flashes": [["success", "Welcome, <b>Ada</b>!", True]],
    }


def test_remember_me_makes_a_persistent_cookie(app: flask.Flask) -> None:
    """``session.permanent = True`` (remember me) gives a cookie that outlives the browser."""
    client = app.test_client()
    response = client.post("/login", data={"name": "Ada", "remember": "on"})
    assert "Expires=" in response.headers["Set-Cookie"]
    assert client.get("/").json["remembered"] is True


def test_flash_is_shown_once(app: flask.Flask) -> None:
    """A flashed message appears on the next page only."""
    client = app.test_client()
    client.post("/login", data={"name": "Ada"}, follow_redirects=True)
    assert client.get("/").json["flashes"] == []
