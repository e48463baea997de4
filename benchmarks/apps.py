"""The same tiny app, written once per framework, for every contender.

Routes (identical bodies for every contender, so the only difference
between two contenders is the session layer):

* ``/seed``  puts ``{"user": "alice", "n": 0}`` in a fresh session; the harness
  calls it once to get a credential (cookie or bearer token);
* ``/read``  reads one key of the session (``user``);
* ``/write`` increments a counter (``n``);
* ``/none``  never touches the session.

The floor apps (bare Starlette, bare Flask) answer the same bodies without a
session, so "overhead" is exactly what the session layer costs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

SEED = {"user": "alice", "n": 0}
#: The body /read answers when the session was really read (checked before timing).
READ_BODY = b"alice"

AsyncSessionOf = Callable[[Any], Awaitable[Any]]
SyncSessionOf = Callable[[], Any]


def starlette_app(session_of: AsyncSessionOf | None, middleware: Sequence[Any] = ()) -> Any:
    """A Starlette app; ``session_of(request)`` returns the session (None: the floor)."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    if session_of is None:

        async def seed(request: Any) -> Any:
            return PlainTextResponse("seeded")

        async def read(request: Any) -> Any:
            return PlainTextResponse("alice")

        async def write(request: Any) -> Any:
            return PlainTextResponse("1")

    else:
        get = session_of

        async def seed(request: Any) -> Any:
            session = await get(request)
            session.update(SEED)
            return PlainTextResponse("seeded")

        async def read(request: Any) -> Any:
            session = await get(request)
            return PlainTextResponse(str(session.get("user")))

        async def write(request: Any) -> Any:
            session = await get(request)
            session["n"] = session.get("n", 0) + 1
            return PlainTextResponse(str(session["n"]))

    async def none(request: Any) -> Any:
        return PlainTextResponse("ok")

    routes = [
        Route("/seed", seed),
        Route("/read", read),
        Route("/write", write),
        Route("/none", none),
    ]
    return Starlette(routes=routes, middleware=list(middleware))


def flask_app(
    session_of: SyncSessionOf | None, configure: Callable[[Any], None] | None = None
) -> Any:
    """A Flask app; ``session_of()`` returns the session inside a request (None: the floor)."""
    from flask import Flask

    app = Flask("bench")
    if configure is not None:
        configure(app)

    if session_of is None:

        def seed() -> str:
            return "seeded"

        def read() -> str:
            return "alice"

        def write() -> str:
            return "1"

    else:
        get = session_of

        def seed() -> str:
            session = get()
            session.update(SEED)
            return "seeded"

        def read() -> str:
            return str(get().get("user"))

        def write() -> str:
            session = get()
            session["n"] = session.get("n", 0) + 1
            return str(session["n"])

    def none() -> str:
        return "ok"

    app.add_url_rule("/seed", "seed", seed)
    app.add_url_rule("/read", "read", read)
    app.add_url_rule("/write", "write", write)
    app.add_url_rule("/none", "none", none)
    return app
