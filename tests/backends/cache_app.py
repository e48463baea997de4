"""An app server process for the client-cache tests, driven line by line on stdin.

``python -m tests.backends.cache_app URL PREFIX`` serves a WSGI app behind
``WSGISessionMiddleware`` on a ``RedisBackend`` with ``client_cache=True``
and answers one line per command:

* ``ready``: waits until the cache tracks invalidations, then ``ready``;
* ``login``: signs in as alice and prints the session cookie;
* ``get COOKIE``: the signed-in user for that cookie, or ``anonymous``;
* ``logout COOKIE``: signs that session out, prints ``ok``;
* ``received``: invalidation messages this process has received.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.test import Client

from sessionware import WSGISessionMiddleware
from sessionware.backends import RedisBackend

SECRET = "cache-test-secret-0123456789-0123456789"
COOKIE = "__Host-session"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    session = environ["sessionware.session"]
    path = environ["PATH_INFO"]
    if path == "/login":
        session.login("alice")
    elif path == "/logout":
        session.logout()
    body = (session.user_id or "anonymous").encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    backend = RedisBackend(url, prefix=prefix, client_cache=True)
    middleware = WSGISessionMiddleware(app, secret_keys=[SECRET], backend=backend)
    client = Client(middleware, use_cookies=False)  # the cookie is the one each command names
    tracker = backend.client_cache
    assert tracker is not None
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        headers = {"Cookie": f"{COOKIE}={arg}"} if arg else {}
        if command == "ready":
            backend.load("warm-up", time.time())  # starts the tracking thread
            while not tracker.healthy:
                time.sleep(0.01)
            out = "ready"
        elif command == "login":
            reply = client.get("/login", base_url="https://testserver")
            out = reply.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
        elif command == "get":
            out = client.get("/whoami", base_url="https://testserver", headers=headers).text
        elif command == "logout":
            client.get("/logout", base_url="https://testserver", headers=headers)
            out = "ok"
        elif command == "received":
            out = str(tracker.received)
        else:
            out = f"unknown command {command!r}"
        print(out, flush=True)
    backend.close()


if __name__ == "__main__":
    main()
