"""The app the soak test serves: cookie sessions and token sessions on one store.

Run by ``benchmarks/soak.py`` in its own process (so its memory is measured
alone)::

    PYTHONPATH=. python benchmarks/soak_app.py --port 8123 --backend redis \\
        --redis-url redis://127.0.0.1:28001/0

Routes (JSON in and out):

====================  =====================================================
POST /login           ``{"user"}``: ``session.login(user)`` (cookie session)
GET  /data            the session's data; 401 when not signed in
POST /write           ``{"k", "v"}``: ``session[k] = v``; 401 when not signed in
POST /logout          ``session.logout()``
POST /token/login     ``{"user"}``: a token pair (``TokenService.aissue``)
GET  /api/me          the bearer token's user (verified without the store)
POST /token/refresh   sessionware's ``refresh_endpoint``
POST /token/logout    ``TokenService.arevoke`` of the bearer token's session
====================  =====================================================

The app does what a real app on sessionware should do when the store is
down: a read finds no session (reads fail closed, so ``/data`` answers 401)
and a failed write is answered 503 by the middleware; the two token calls
the app makes itself (``aissue``, ``arevoke``) map
:class:`~sessionware.errors.BackendError` to 503 the same way.

Every virtual user sends its own ``X-Forwarded-For`` address and the
middleware trusts loopback as a proxy, so the guard (on, with its default
brute-force limits) counts users apart as it would behind a real proxy.
The flood limit is raised: one virtual user signs in several times a second.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sessionware import GuardConfig, SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.backends.base import Backend
from sessionware.errors import BackendError
from sessionware.tokens import TokenService, refresh_endpoint
from sessionware.tokens.keys import generate_keypair

SECRET = "soak-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
UNAVAILABLE = {"error": "temporarily_unavailable"}


def make_backend(kind: str, redis_url: str | None, prefix: str) -> Backend:
    """The store under test: ``memory``, or ``redis`` at ``redis_url``."""
    if kind == "memory":
        return MemoryBackend()
    if kind == "redis":
        from sessionware.backends import RedisBackend

        return RedisBackend(redis_url or "redis://127.0.0.1:6379/0", prefix=prefix)
    raise SystemExit(f"unknown backend {kind!r}")


def build(backend: Backend) -> Any:
    """The soak ASGI app on ``backend``."""
    private_pem, _ = generate_keypair("EdDSA")
    tokens = TokenService(
        backend, keys={"soak": private_pem}, issuer="https://soak.test", audience="soak"
    )

    async def login(request: Request) -> Response:
        body = await request.json()
        request.session.login(str(body["user"]))
        return JSONResponse({"ok": True})

    async def data(request: Request) -> Response:
        session = request.session
        if session.user_id is None:
            return JSONResponse({"error": "not signed in"}, status_code=401)
        return JSONResponse(dict(session))

    async def write(request: Request) -> Response:
        body = await request.json()
        session = request.session
        if session.user_id is None:
            return JSONResponse({"error": "not signed in"}, status_code=401)
        session[str(body["k"])] = body["v"]
        return JSONResponse({"ok": True})

    async def logout(request: Request) -> Response:
        request.session.logout()
        return JSONResponse({"ok": True})

    async def token_login(request: Request) -> Response:
        body = await request.json()
        try:
            pair = await tokens.aissue(str(body["user"]))
        except BackendError:
            return JSONResponse(UNAVAILABLE, status_code=503, headers={"Retry-After": "2"})
        return JSONResponse(pair.as_dict(), headers={"Cache-Control": "no-store"})

    async def me(request: Request) -> Response:
        session = request.session
        if session.user_id is None:
            return JSONResponse({"error": "login required"}, status_code=401)
        return JSONResponse({"user": session.user_id})

    async def token_logout(request: Request) -> Response:
        handle = request.session.handle
        if handle is None:
            return JSONResponse({"error": "login required"}, status_code=401)
        try:
            await tokens.arevoke(handle)
        except BackendError:
            return JSONResponse(UNAVAILABLE, status_code=503, headers={"Retry-After": "2"})
        return Response(status_code=204)

    routes = [
        Route("/login", login, methods=["POST"]),
        Route("/data", data),
        Route("/write", write, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/token/login", token_login, methods=["POST"]),
        Route("/api/me", me),
        Route("/token/refresh", refresh_endpoint(tokens), methods=["POST"]),
        Route("/token/logout", token_logout, methods=["POST"]),
    ]
    return SessionMiddleware(
        Starlette(routes=routes),
        secret_keys=[SECRET],
        backend=backend,
        tokens=tokens,
        trusted_proxies=["127.0.0.1"],
        guard=GuardConfig(create_limit=100_000),
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", choices=("memory", "redis"), default="memory")
    parser.add_argument("--redis-url")
    parser.add_argument("--prefix", default="soak:")
    args = parser.parse_args()
    # Security events (expected here: backend_down, unknown_id after the outage)
    # go to stderr at WARNING; the soak counts them, so keep them terse.
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    app = build(make_backend(args.backend, args.redis_url, args.prefix))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
