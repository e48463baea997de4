"""docs/integrations.md examples, type-checked by ``mypy --strict`` in CI (not run by pytest)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from flask import Flask, redirect, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.wrappers import Response

from sessionware import SessionMiddleware, load_session
from sessionware.integrations.fastapi import (
    AUTH_RESPONSES,
    SessionAuth,
    SessionDep,
    UserDep,
    require_recent_auth,
)
from sessionware.integrations.flask import Sessionware, current_session
from sessionware.integrations.migrate import LegacyCookie

SECRET = "change-me-change-me-change-me-change-me"
OLD_SECRET = "the-old-one"


async def counter(request: Request) -> JSONResponse:
    request.session["n"] = request.session.get("n", 0) + 1
    return JSONResponse({"n": request.session["n"]})


async def lazy_counter(request: Request) -> JSONResponse:
    session = await load_session(request)  # load="lazy": read only when asked for
    session["n"] = session.get("n", 0) + 1
    return JSONResponse({"n": session["n"]})


lazy_app = SessionMiddleware(
    Starlette(routes=[Route("/", lazy_counter)]), secret_keys=[SECRET], load="lazy"
)

starlette_app = Starlette(
    routes=[Route("/", counter)],
    middleware=[Middleware(SessionMiddleware, secret_key=SECRET, max_age=8 * 3600)],
)
starlette_app.add_middleware(
    SessionMiddleware,
    secret_keys=[SECRET],
    migrate_from=LegacyCookie(kind="flask", secret=[OLD_SECRET], user_key="_user_id"),
)

api = FastAPI()
api.add_middleware(
    SessionMiddleware, secret_keys=[SECRET], migrate_from="starlette", legacy_secret=OLD_SECRET
)
auth = SessionAuth(cookie_name="__Host-app")


@api.post("/login")
async def login(session: SessionDep, user: str) -> dict[str, bool]:
    session.login(user, remember=True)
    return {"ok": True}


@api.get("/me", responses=AUTH_RESPONSES)
async def me(user_id: UserDep) -> dict[str, str]:
    return {"user": user_id}


@api.post("/email", dependencies=[Depends(require_recent_auth(300))])
async def change_email(session: SessionDep) -> None:
    session.regenerate()


@api.get("/app-me")
async def app_me(user_id: str = Depends(auth.require_user)) -> dict[str, str]:
    return {"user": user_id}


flask_app = Flask(__name__)
flask_app.config["SECRET_KEY"] = SECRET
extension = Sessionware(flask_app, migrate_from="flask")


@flask_app.post("/logout")
def logout() -> Response:
    current_session().logout()
    return redirect("/")


@flask_app.get("/devices")
def devices() -> dict[str, Any]:
    mine = extension.manager.list_sessions(str(request.args["user"]))
    return {"devices": [s.agent for s in mine]}
