"""A Flask app written for Flask's own session: remember-me, flashed Markup, datetimes, tuples.

``test_notes.py`` runs it as written and under ``Sessionware(app)``; the
app's code is the same in both.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, flash, get_flashed_messages, redirect, request, session
from markupsafe import Markup
from werkzeug.wrappers import Response


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "notes-secret-that-is-at-least-32-bytes-long"

    @app.post("/login")
    def login() -> Response:
        session.permanent = request.form.get("remember") == "on"
        session["user"] = request.form["name"]
        session["since"] = datetime.now(UTC)
        session["position"] = (3, 4)
        flash(Markup(f"Welcome, <b>{Markup.escape(request.form['name'])}</b>!"), "success")
        return redirect("/")

    @app.get("/")
    def home() -> dict[str, object]:
        messages = get_flashed_messages(with_categories=True)
        since = session.get("since")
        return {
            "user": session.get("user"),
            "remembered": session.permanent,
            "since_is_datetime": isinstance(since, datetime),
            "position_is_tuple": isinstance(session.get("position"), tuple),
            "flashes": [[c, str(m), isinstance(m, Markup)] for c, m in messages],
        }

    return app
