"""A revoked session's open websocket is closed (1008) on its next message (#17)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from sessionware import MemoryBackend, SessionManager, SessionMiddleware

from ..conftest import SECRET


async def login(request: Request) -> PlainTextResponse:
    request.session.login("ada")
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    user = websocket.session.user_id
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{user}:{text}")
    except WebSocketDisconnect:
        pass


def make() -> tuple[TestClient, MemoryBackend]:
    backend = MemoryBackend()
    app = Starlette(routes=[Route("/login", login, methods=["POST"]), WebSocketRoute("/ws", echo)])
    wrapped = SessionMiddleware(app, secret_keys=[SECRET], backend=backend, guard=None)
    return TestClient(wrapped, base_url="https://testserver"), backend


def test_revoked_session_websocket_closes_with_1008() -> None:
    """The socket serves messages until its session is revoked; the next one closes it."""
    client, backend = make()
    client.post("/login")
    # TestClient builds ws:// URLs, for which cookie jars withhold Secure cookies: send it by hand.
    cookie = {"cookie": f"__Host-session={client.cookies['__Host-session']}"}
    with client.websocket_connect("/ws", headers=cookie) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "ada:hi"
        assert SessionManager(backend).revoke_user("ada", by="admin") == 1
        ws.send_text("again")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008


def test_live_session_websocket_keeps_serving() -> None:
    """Without a revocation the socket keeps working, message after message."""
    client, _ = make()
    client.post("/login")
    # TestClient builds ws:// URLs, for which cookie jars withhold Secure cookies: send it by hand.
    cookie = {"cookie": f"__Host-session={client.cookies['__Host-session']}"}
    with client.websocket_connect("/ws", headers=cookie) as ws:
        for n in range(3):
            ws.send_text(str(n))
            assert ws.receive_text() == f"ada:{n}"
