"""The Redis floor: a session layer that is nothing but the commands a session needs.

``redis-bare`` (ASGI, ``redis.asyncio``) and ``flask-redis-bare`` (WSGI,
``redis``) read the cookie, ``GET`` one JSON blob, hand the app a dict and,
if the app changed it, ``SET`` it back with a TTL: one command for a read,
two for a write, no signing, no expiry logic, no indexes.  Set beside
sessionware and the peers in the same run, they price a session store's
round trips on this machine, so the overhead *above* them is what each
library's own code costs.  Not a session layer anyone should deploy (the
cookie is the storage key, unsigned).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from . import apps

COOKIE = "bare"
TTL = 1800


class Tracked(dict[str, Any]):
    """A dict that remembers whether it was written to."""

    changed = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.changed = True
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.changed = True
        super().update(*args, **kwargs)


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None


class BareRedisASGI:
    """``scope["session"]`` from one ``GET``; one ``SET`` after the app if it changed."""

    def __init__(self, app: Any, client: Any, prefix: str) -> None:
        self.app, self.client, self.prefix = app, client, prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sid = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                sid = _cookie(value.decode("latin-1"))
        blob = await self.client.get(self.prefix + sid) if sid else None
        session = Tracked(json.loads(blob) if blob else {})
        scope["session"] = session
        started: list[Any] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                started.append(message)
                return
            if started:
                start = started.pop()
                if session.changed:
                    key = sid or secrets.token_hex(16)
                    await self.client.set(self.prefix + key, json.dumps(session), ex=TTL)
                    if sid is None:
                        cookie = f"{COOKIE}={key}; Path=/; HttpOnly".encode()
                        start["headers"] = [*start.get("headers", []), (b"set-cookie", cookie)]
                await send(start)
            await send(message)

        await self.app(scope, receive, capture)


class BareRedisWSGI:
    """The same on WSGI, with the blocking client, around ``app.wsgi_app``."""

    def __init__(self, app: Any, client: Any, prefix: str) -> None:
        self.app, self.client, self.prefix = app, client, prefix

    def __call__(self, environ: Any, start_response: Any) -> Any:
        sid = _cookie(environ.get("HTTP_COOKIE", ""))
        blob = self.client.get(self.prefix + sid) if sid else None
        session = Tracked(json.loads(blob) if blob else {})
        environ["bare.session"] = session
        held: list[Any] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held.append((status, headers, exc_info))
            return lambda data: None

        body = b"".join(self.app(environ, hold))
        status, headers, exc_info = held[0]
        if session.changed:
            key = sid or secrets.token_hex(16)
            self.client.set(self.prefix + key, json.dumps(session), ex=TTL)
            if sid is None:
                headers = [*headers, ("Set-Cookie", f"{COOKIE}={key}; Path=/; HttpOnly")]
        start_response(status, headers, exc_info)
        return [body]


def asgi_factory(
    built: Callable[..., Any],
    scope_session: Callable[[Any], Awaitable[Any]],
    cleanup: Callable[[Any, str], Awaitable[None]],
) -> Callable[[Any], Any]:
    def factory(env: Any) -> Any:
        from redis.asyncio import Redis

        client = Redis.from_url(env.redis_url)
        prefix = f"{env.run_id}:bare:"

        async def aclose() -> None:
            await cleanup(client, prefix)
            await client.aclose()

        app = BareRedisASGI(apps.starlette_app(scope_session), client, prefix)
        return built(app, aclose=aclose)

    return factory


def wsgi_factory(
    built: Callable[..., Any], cleanup: Callable[[Any, str], None]
) -> Callable[[Any], Any]:
    def factory(env: Any) -> Any:
        from flask import request
        from redis import Redis

        client = Redis.from_url(env.redis_url)
        prefix = f"{env.run_id}:bare-wsgi:"
        app = apps.flask_app(lambda: request.environ["bare.session"])
        app.wsgi_app = BareRedisWSGI(app.wsgi_app, client, prefix)  # type: ignore[method-assign]

        def close() -> None:
            cleanup(client, prefix)
            client.close()

        return built(app, close=close)

    return factory
