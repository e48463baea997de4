"""Bearer transport in SessionMiddleware and WSGISessionMiddleware (token mode)."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from werkzeug.test import Client

from sessionware import SessionMiddleware, WSGISessionMiddleware
from sessionware.errors import BackendUnavailable, ConfigError
from sessionware.tokens.transport import TokenSession

SECRET = "s" * 48


async def whoami(request):
    session = request.session
    return JSONResponse(
        {
            "type": type(session).__name__,
            "user": session.user_id,
            "handle": session.handle,
            "plan": session.get("plan"),
        }
    )


async def write(request):
    try:
        request.session["x"] = 1
    except TypeError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"ok": True})


async def login(request):
    request.session.login("carol")
    return JSONResponse({"ok": True})


async def socket(websocket):
    await websocket.accept()
    await websocket.send_json({"user": websocket.scope["session"].user_id})
    await websocket.close()


def asgi_app(service, transport=None, events=None):
    app = Starlette(
        routes=[
            Route("/me", whoami),
            Route("/write", write, methods=["POST"]),
            Route("/login", login, methods=["POST"]),
            WebSocketRoute("/ws", socket),
        ]
    )
    return SessionMiddleware(
        app,
        secret_keys=[SECRET],
        backend=service.backend,
        tokens=service,
        transport=transport,
        on_event=None if events is None else events.append,
    )


def client_for(app):
    transport = httpx.ASGITransport(app=app, client=("192.0.2.4", 1234))
    return httpx.AsyncClient(transport=transport, base_url="https://api.example.test")


def bearer(token):
    return {"authorization": f"Bearer {token}"}


async def test_bearer_request_gets_a_read_only_token_session(service) -> None:
    """A valid bearer token puts a TokenSession with user, handle and custom claims in scope."""
    pair = service.issue("alice", claims={"plan": "pro"})
    async with client_for(asgi_app(service)) as client:
        response = await client.get("/me", headers=bearer(pair.access_token))
    assert response.json() == {
        "type": "TokenSession",
        "user": "alice",
        "handle": pair.handle,
        "plan": "pro",
    }
    assert "set-cookie" not in response.headers


async def test_writing_a_token_session_raises_an_explaining_type_error(service) -> None:
    """Setting a key on a token session is a TypeError that says to re-issue or revoke."""
    pair = service.issue("alice")
    async with client_for(asgi_app(service)) as client:
        response = await client.post("/write", headers=bearer(pair.access_token))
    assert response.status_code == 409
    assert "read-only" in response.json()["error"] and "issu" in response.json()["error"]


async def test_invalid_bearer_token_answers_401_and_raises_an_event(service, events) -> None:
    """A bad token is refused with 401 invalid_token before the app runs; both sinks hear it."""
    middleware_events: list = []
    async with client_for(asgi_app(service, events=middleware_events)) as client:
        response = await client.get("/me", headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"
    assert response.headers["cache-control"] == "no-store"
    for sink in (events, middleware_events):
        assert [e.kind for e in sink] == ["token_invalid"] and sink[0].client == "192.0.2.4"


async def test_revoked_session_answers_401_with_check_revocation(make_service) -> None:
    """With check_revocation a revoked session's access token is refused at once."""
    service = make_service(check_revocation=True)
    pair = service.issue("alice")
    async with client_for(asgi_app(service)) as client:
        assert (await client.get("/me", headers=bearer(pair.access_token))).status_code == 200
        await service.arevoke(pair.handle)
        response = await client.get("/me", headers=bearer(pair.access_token))
    assert response.status_code == 401 and "revoked" in response.headers["www-authenticate"]


async def test_both_mode_serves_cookie_sessions_without_a_bearer_header(service) -> None:
    """With transport="both", requests without a Bearer header use cookie sessions as before."""
    async with client_for(asgi_app(service)) as client:
        response = await client.post("/login", headers={"authorization": "Basic Zm9vOmJhcg=="})
        assert "__Host-session=" in response.headers["set-cookie"]
        me = await client.get("/me")
    assert me.json()["type"] == "Session" and me.json()["user"] == "carol"


async def test_bearer_mode_without_token_is_anonymous(service) -> None:
    """With transport="bearer", a request without a token gets an empty anonymous token session."""
    async with client_for(asgi_app(service, transport="bearer")) as client:
        response = await client.get("/me")
    assert response.json()["type"] == "TokenSession" and response.json()["user"] is None


async def test_two_authorization_headers_are_refused(service) -> None:
    """Ambiguous credentials (two Authorization headers) answer 400 invalid_request."""
    pair = service.issue("alice")
    headers = [("authorization", f"Bearer {pair.access_token}"), ("authorization", "Bearer x")]
    async with client_for(asgi_app(service)) as client:
        response = await client.get("/me", headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_store_down_during_revocation_check_answers_503(make_service, backend) -> None:
    """If the revocation check cannot reach the store, the request fails closed with 503."""

    class Down:
        def __init__(self, inner):
            self.inner = inner

        async def aload_handle(self, handle, now):
            raise BackendUnavailable("down")

        def __getattr__(self, name):
            return getattr(self.inner, name)

    issuer = make_service()
    pair = issuer.issue("alice")
    service = make_service(backend=Down(backend), check_revocation=True)
    async with client_for(asgi_app(service)) as client:
        response = await client.get("/me", headers=bearer(pair.access_token))
    assert response.status_code == 503 and response.headers["retry-after"] == "2"


def test_websocket_with_bearer_token(service) -> None:
    """A websocket with a valid bearer token sees the token session; a bad token is closed."""
    pair = service.issue("alice")
    with TestClient(asgi_app(service)) as client:
        with client.websocket_connect("/ws", headers=bearer(pair.access_token)) as ws:
            assert ws.receive_json() == {"user": "alice"}
        with (
            pytest.raises(WebSocketDisconnect) as info,
            client.websocket_connect("/ws", headers=bearer("bad")),
        ):
            pass
        assert info.value.code == 1008


@pytest.mark.parametrize(
    "kwargs,message",
    [
        pytest.param({"transport": "bearer"}, "needs tokens", id="bearer-without-service"),
        pytest.param({"transport": "cookie", "tokens": True}, "unused", id="service-unused"),
        pytest.param({"transport": "jwt", "tokens": True}, "must be", id="unknown-transport"),
    ],
)
def test_transport_configuration_is_checked(service, kwargs, message) -> None:
    """Inconsistent tokens/transport arguments are a ConfigError at construction."""
    if kwargs.get("tokens") is True:
        kwargs["tokens"] = service
    for middleware in (SessionMiddleware, WSGISessionMiddleware):
        with pytest.raises(ConfigError, match=message):
            middleware(lambda *a: None, secret_keys=[SECRET], **kwargs)


def wsgi_app(environ, start_response):
    session = environ["sessionware.session"]
    status = "200 OK"
    body = f"{type(session).__name__}:{session.user_id}".encode()
    if environ["PATH_INFO"] == "/write":
        try:
            session["x"] = 1
        except TypeError:
            status, body = "409 Conflict", b"read-only"
    start_response(status, [("Content-Type", "text/plain")])
    return [body]


def test_wsgi_bearer_token_session_and_401(service) -> None:
    """WSGI bearer requests get a read-only token session; bad tokens are refused."""
    pair = service.issue("alice")
    client = Client(
        WSGISessionMiddleware(
            wsgi_app, secret_keys=[SECRET], backend=service.backend, tokens=service
        )
    )
    ok = client.get("/", headers=bearer(pair.access_token))
    assert ok.data == b"TokenSession:alice"
    assert client.post("/write", headers=bearer(pair.access_token)).status_code == 409
    bad = client.get("/", headers=bearer(pair.refresh_token))
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert client.get("/").data == b"Session:None"


def test_token_session_reads_like_a_session(service) -> None:
    """TokenSession exposes the Session read API and hides the registered claims from the dict."""
    pair = service.issue("alice", claims={"plan": "pro"})
    session = TokenSession(service.verify(pair.access_token))
    assert dict(session) == {"plan": "pro"} and session.claims["sub"] == "alice"
    assert session["plan"] == "pro" and session.accessed and not session.modified
    assert session.auth_time is not None and session.expires_at is not None
    assert session.remember and not session.is_new
    for write in (
        lambda: session.update(a=1),
        lambda: session.pop("plan"),
        session.clear,
        session.logout,
        lambda: session.login("bob"),
        session.regenerate,
        session.mark_modified,
    ):
        with pytest.raises(TypeError, match="read-only"):
            write()
    assert dict(session) == {"plan": "pro"}
