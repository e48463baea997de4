"""Use one extra's feature from an installed wheel: ``python extras_use.py EXTRA``.

Run by ``.ci/extras-check`` inside a fresh virtualenv that holds only the
wheel and that extra (``core`` = no extra), from a directory outside the
repository, so ``import sessionware`` is the installed package.  Each check
does what a user of that extra does first (construct the backend against the
real service and make a request through it, run the command...); a missing
dependency fails here exactly as it would for them.

Only the standard library, the package and the extra's own dependencies may
be imported: no httpx, no pytest.
"""

# No `from __future__ import annotations`: FastAPI must see the real
# annotations of the routes defined inside check_fastapi().
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SECRET = secrets.token_urlsafe(48)
REDIS = os.environ.get("SESSIONWARE_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ.get("SESSIONWARE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent


def run(*args: str) -> str:
    """A ``sessionware`` command from the venv's entry point; fails loudly on exit != 0."""
    done = subprocess.run(  # noqa: S603 - the venv's own entry point
        [str(BIN / "sessionware"), *args], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"sessionware {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


async def asgi_get(
    app: Any, path: str, cookie: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTPS request through an ASGI app, by hand (no test client installed here)."""
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
        "server": ("testserver", 443),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    out = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], out, body


def cookie_of(headers: dict[str, str]) -> str:
    return headers["set-cookie"].split(";", 1)[0]


def through_both_faces(backend: Any) -> None:
    """A session written and read back through the ASGI and the WSGI middleware."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from werkzeug.test import Client

    from sessionware import SessionMiddleware, WSGISessionMiddleware, session_of

    async def count(request: Request) -> PlainTextResponse:
        session = session_of(request)
        session["n"] = session.get("n", 0) + 1
        return PlainTextResponse(str(session["n"]))

    app = SessionMiddleware(Starlette(routes=[Route("/", count)]), secret_keys=[SECRET],
                            backend=backend)

    async def twice() -> None:
        status, headers, body = await asgi_get(app, "/")
        assert (status, body) == (200, b"1"), (status, body)
        status, _, body = await asgi_get(app, "/", cookie_of(headers))
        assert (status, body) == (200, b"2"), (status, body)

    asyncio.run(twice())

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = session_of(environ)
        session["n"] = session.get("n", 0) + 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session["n"]).encode()]

    client = Client(WSGISessionMiddleware(wsgi, secret_keys=[SECRET], backend=backend))
    assert [client.get("https://localhost/").text for _ in range(2)] == ["1", "2"]


def check_core() -> None:
    import sessionware
    from sessionware import MemoryBackend

    through_both_faces(MemoryBackend())
    assert run("--version").strip() == f"sessionware {sessionware.__version__}"
    assert len(run("keygen").strip()) >= 43
    run("audit")
    assert "read" in run("bench", "--rounds", "2", "--batch", "5")


def check_redis() -> None:
    from sessionware.backends import RedisBackend

    prefix = f"swci{secrets.token_hex(4)}:"
    backend = RedisBackend(REDIS, prefix=prefix)
    try:
        through_both_faces(backend)
        run("sessions", "list", "nobody", "--backend", REDIS)
        run("cleanup", "--backend", REDIS)
    finally:
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


def check_sql() -> None:
    from sessionware.backends import SQLBackend

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/sessions.db"
        through_both_faces(SQLBackend(url))
        assert "removed" in run("cleanup", "--backend", url)
    table = f"swci_{secrets.token_hex(4)}"
    backend = SQLBackend(POSTGRES, table=table)
    try:
        through_both_faces(backend)
    finally:
        import sqlalchemy as sa

        with backend.engine.begin() as conn:
            for name in sa.inspect(conn).get_table_names():
                if name.startswith(table):
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))


def check_jwt() -> None:
    from sessionware import MemoryBackend, TokenService
    from sessionware.tokens import generate_keypair

    private, _public = generate_keypair()
    tokens = TokenService(MemoryBackend(), keys={"k1": private}, issuer="https://ci",
                          audience="ci")
    pair = tokens.issue("alice")
    assert tokens.verify(pair.access_token).user_id == "alice"
    assert "BEGIN PRIVATE KEY" in run("keygen", "--eddsa")


def check_flask() -> None:
    from flask import Flask

    from sessionware.integrations.flask import Sessionware, current_session

    app = Flask("ci")
    app.config["SECRET_KEY"] = SECRET
    Sessionware(app)

    @app.get("/")
    def count() -> str:
        session = current_session()
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert [client.get("/", base_url="https://localhost").text for _ in range(2)] == ["1", "2"]


def check_fastapi() -> None:
    from fastapi import FastAPI

    from sessionware import SessionMiddleware
    from sessionware.integrations.fastapi import SessionDep, UserDep

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET])

    @app.get("/login")
    async def login(session: SessionDep) -> dict[str, str]:
        session.login("alice")
        return {"ok": "yes"}

    @app.get("/me")
    async def me(user: UserDep) -> dict[str, str]:
        return {"user": user}

    async def flow() -> None:
        status, _, body = await asgi_get(app, "/me")
        assert status == 401, (status, body)
        status, headers, _ = await asgi_get(app, "/login")
        status, _, body = await asgi_get(app, "/me", cookie_of(headers))
        assert (status, body) == (200, b'{"user":"alice"}'), (status, body)

    asyncio.run(flow())


def check_cli() -> None:
    """``sessionware demo`` serves its sign-in page; the other commands run."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = subprocess.Popen(  # noqa: S603 - the venv's own entry point
        [str(BIN / "sessionware"), "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                    assert reply.status == 200 and b"Sign in" in reply.read()
                    break
            except OSError as exc:
                if demo.poll() is not None or time.monotonic() > deadline:
                    stderr = demo.stderr.read() if demo.stderr else ""
                    raise SystemExit(f"sessionware demo did not serve: {stderr}") from exc
                time.sleep(0.2)
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    check_core()


def check_metrics() -> None:
    import prometheus_client

    from sessionware import Event
    from sessionware.defences.metrics import PrometheusEvents

    registry = prometheus_client.CollectorRegistry()
    events = PrometheusEvents(registry=registry)
    events(Event("login", "127.0.0.1"))
    assert b"login" in prometheus_client.generate_latest(registry)


def check_docs() -> None:
    """The docs toolchain imports (the site itself is built by .ci/run)."""
    import material  # noqa: F401
    import mkdocs  # noqa: F401
    import mkdocstrings  # noqa: F401
    from mkdocstrings_handlers import python  # noqa: F401


CHECKS = {name[6:]: fn for name, fn in globals().items() if name.startswith("check_")}

if __name__ == "__main__":
    extra = sys.argv[1]
    os.chdir(tempfile.mkdtemp(prefix=f"sw-{extra}-"))
    CHECKS[extra]()
    print(f"extra {extra}: ok")
