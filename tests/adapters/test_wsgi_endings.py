"""The WSGI edge reads end reasons and serves the renewal grace window too (#17)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.test import Client

from sessionware import WSGISessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.testing import FakeClock
from sessionware.wsgi import ENVIRON_KEY

from ..conftest import SECRET

COOKIE = "__Host-session"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    session = environ[ENVIRON_KEY]
    path = environ["PATH_INFO"]
    if path == "/login":
        session.login("ada")
    elif path == "/logout":
        session.logout()
    elif path == "/put":
        session["late"] = 1
    body = {"user": session.user_id, "reason": session.end_reason, "data": dict(session)}
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps(body).encode()]


def make(**config: Any) -> tuple[Client, FakeClock]:
    clock = FakeClock()
    wrapped = WSGISessionMiddleware(
        app, backend=MemoryBackend(), clock=clock, secret_keys=[SECRET], guard=None, **config
    )
    return Client(wrapped, use_cookies=False), clock


def call(client: Client, path: str, cookie: str | None = None) -> tuple[dict[str, Any], Any]:
    headers = {"cookie": f"{COOKIE}={cookie}"} if cookie else {}
    response = client.get(path, base_url="https://localhost", headers=headers)
    return json.loads(response.get_data()), response


def cookie_of(response: Any) -> str:
    header = response.headers["set-cookie"]
    return str(header.split(";", 1)[0].split("=", 1)[1])


def test_wsgi_logout_then_replay_reads_logout() -> None:
    """A logged-out cookie replayed through the WSGI edge reads end_reason "logout"."""
    client, _ = make()
    _, response = call(client, "/login")
    cookie = cookie_of(response)
    call(client, "/logout", cookie)
    body, _ = call(client, "/me", cookie)
    assert body == {"user": None, "reason": "logout", "data": {}}


def test_wsgi_grace_window_serves_and_writes_the_successor() -> None:
    """Within rotation_grace the old ID reaches the renewed session on the sync face too."""
    client, clock = make(renew_interval=60, rotation_grace=5)
    _, response = call(client, "/login")
    old = cookie_of(response)
    clock.advance(61)
    _, renewed = call(client, "/me", old)
    new = cookie_of(renewed)
    clock.advance(1)
    body, response = call(client, "/put", old)
    assert body["user"] == "ada" and "set-cookie" not in response.headers
    assert call(client, "/me", new)[0]["data"] == {"late": 1}
    clock.advance(10)
    assert call(client, "/me", old)[0]["reason"] == "rotated"
