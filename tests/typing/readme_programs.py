"""README.md programs, copied by tests/docs/test_examples.py for ``mypy --strict``.

Do not edit: change README.md, then run
``SESSIONWARE_UPDATE_EXAMPLES=1 python -m pytest tests/docs``.
"""

# ruff: noqa


def program_0() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from sessionware import SessionMiddleware, session_of

    SECRET = "generate-yours-with-sessionware-keygen-0123456789"  # 32+ random bytes


    async def login(request: Request) -> JSONResponse:
        session = session_of(request)           # typed: login(), handle, user_id...
        session.login("alice")
        return JSONResponse({"user": session.user_id, "handle": session.handle})


    async def cart(request: Request) -> JSONResponse:
        session = session_of(request)
        session.setdefault("cart", []).append(42)   # JSON values; nested changes are saved
        return JSONResponse({"user": session.user_id, "cart": session["cart"]})


    app = Starlette(routes=[Route("/login", login, methods=["POST"]), Route("/cart", cart)])
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET])
    from starlette.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as client:
        signed_in = client.post("/login").json()
        assert signed_in["user"] == "alice" and signed_in["handle"]
        assert client.get("/cart").json() == {"user": "alice", "cart": [42]}


def program_1() -> None:
    from collections.abc import Iterable
    from typing import Any

    from werkzeug.test import Client

    from sessionware import WSGISessionMiddleware, session_of

    SECRET = "generate-yours-with-sessionware-keygen-0123456789"


    def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        session = session_of(environ)
        session["visits"] = session.get("visits", 0) + 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"visit {session['visits']}".encode()]


    wsgi_app = WSGISessionMiddleware(hello, secret_keys=[SECRET])
    client = Client(wsgi_app)
    client.get("https://localhost/")
    assert client.get("https://localhost/").text == "visit 2"


def program_2() -> None:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from sessionware import SessionMiddleware
    from sessionware.integrations.fastapi import SessionDep, UserDep, require_recent_auth

    SECRET = "generate-yours-with-sessionware-keygen-0123456789"
    api = FastAPI()
    api.add_middleware(SessionMiddleware, secret_keys=[SECRET])


    @api.post("/login")
    async def login(session: SessionDep) -> dict[str, str]:
        session.login("alice")                                  # new ID: fixation defence
        return {"signed_in": "alice"}


    @api.get("/me")
    async def me(user: UserDep) -> dict[str, str]:              # 401 when anonymous
        return {"user": user}


    @api.post("/password", dependencies=[Depends(require_recent_auth(300))])
    async def change_password(session: SessionDep) -> dict[str, bool]:  # 401 unless signed in < 5 min
        return {"changed": True}


    with TestClient(api, base_url="https://testserver") as client:
        assert client.get("/me").status_code == 401
        client.post("/login")
        assert client.get("/me").json() == {"user": "alice"}
        assert client.post("/password").json() == {"changed": True}


def program_3() -> None:
    from flask import Flask

    from sessionware.integrations.flask import Sessionware, current_session

    flask_app = Flask(__name__)
    flask_app.config["SECRET_KEY"] = "generate-yours-with-sessionware-keygen-0123456789"
    Sessionware(flask_app)


    @flask_app.post("/login")
    def login() -> str:
        current_session().login("alice")        # flask.session, typed; new ID: fixation defence
        return "ok"


    @flask_app.get("/me")
    def me() -> str:
        return current_session().user_id or "anonymous"


    with flask_app.test_client() as client:
        client.post("/login", base_url="https://localhost")
        assert client.get("/me", base_url="https://localhost").text == "alice"


def program_4() -> None:
    from starlette.applications import Starlette

    from sessionware import SessionMiddleware
    from sessionware.backends import RedisBackend   # pip install "sessionware[redis]"

    SECRET = "generate-yours-with-sessionware-keygen-0123456789"
    backend = RedisBackend("redis://10.0.0.5:6379/0")   # connects on first use
    cluster = RedisBackend("redis+cluster://10.0.0.5:7000,10.0.0.6:7000")  # Redis Cluster
    app = Starlette()
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET], backend=backend)


def program_5() -> None:
    from starlette.applications import Starlette

    from sessionware import SessionMiddleware
    from sessionware.backends import SQLBackend          # pip install "sessionware[sql]"

    SECRET = "generate-yours-with-sessionware-keygen-0123456789"
    backend = SQLBackend("sqlite:///sessions.db")        # one file, no server
    durable = SQLBackend("postgresql://app@db/app")      # psycopg 3 for both faces; connects on use
    app = Starlette()
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET], backend=backend)
