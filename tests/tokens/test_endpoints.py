"""The ready-made refresh endpoints, ASGI (through Starlette) and WSGI."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from werkzeug.test import Client

from sessionware.tokens import refresh_endpoint, wsgi_refresh_endpoint

JSON = {"content-type": "application/json"}


@pytest.fixture
def asgi_client(service):
    app = Starlette(routes=[Route("/token/refresh", refresh_endpoint(service), methods=["POST"])])
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 5000))
    return httpx.AsyncClient(transport=transport, base_url="https://api.example.test")


async def test_asgi_refresh_returns_a_new_pair_not_cached(asgi_client, service, events) -> None:
    """POST {"refresh_token"} answers 200 with a new pair and Cache-Control: no-store."""
    pair = await service.aissue("alice")
    async with asgi_client as client:
        response = await client.post("/token/refresh", json={"refresh_token": pair.refresh_token})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert service.verify(body["access_token"]).handle == pair.handle
    assert events[-1].kind == "refreshed" and events[-1].client == "198.51.100.7"


async def test_asgi_reused_token_answers_401_json(asgi_client, service) -> None:
    """A spent refresh token gets 401 invalid_grant as JSON, and the session is revoked."""
    pair = await service.aissue("alice")
    async with asgi_client as client:
        await client.post("/token/refresh", json={"refresh_token": pair.refresh_token})
        response = await client.post("/token/refresh", json={"refresh_token": pair.refresh_token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await service.backend.aload_handle(pair.handle, service._clock()) is None


@pytest.mark.parametrize(
    "kwargs,status",
    [
        pytest.param({"content": b"not json", "headers": JSON}, 400, id="not-json"),
        pytest.param({"content": b'{"refresh_token": "x"}'}, 415, id="not-declared-json"),
        pytest.param({"json": ["refresh_token"]}, 400, id="not-object"),
        pytest.param({"json": {"refresh_token": 7}}, 400, id="not-string"),
        pytest.param({"json": {"refresh_token": "x" * 100}}, 401, id="garbage-token"),
        pytest.param({"content": b"{" * 9000}, 413, id="too-large"),
        pytest.param({"json": {}, "params": {"refresh_token": "x"}}, 400, id="token-in-url"),
    ],
)
async def test_asgi_bad_requests_get_small_json_errors(asgi_client, kwargs, status) -> None:
    """Malformed, oversized or misplaced input gets a JSON error, never a traceback."""
    async with asgi_client as client:
        response = await client.post("/token/refresh", **kwargs)
    assert response.status_code == status
    assert set(response.json()) == {"error", "error_description"}
    assert response.headers["cache-control"] == "no-store"


async def test_asgi_endpoint_refuses_other_methods(service) -> None:
    """Mounted without a methods filter, the endpoint itself answers 405 to GET."""
    app = Starlette(routes=[Route("/r", refresh_endpoint(service))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/r")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


async def test_asgi_streamed_oversized_body_is_cut_off(service) -> None:
    """A chunked body without Content-Length is refused once it passes max_body."""
    app = refresh_endpoint(service, max_body=1024)

    async def chunks():
        for _ in range(10):
            yield b"x" * 512

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post("/", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_wsgi_refresh_round_trip_and_reuse(service) -> None:
    """The WSGI endpoint refreshes once, then answers 401 to the spent token."""
    client = Client(wsgi_refresh_endpoint(service))
    pair = service.issue("alice")
    ok = client.post("/token/refresh", json={"refresh_token": pair.refresh_token})
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"
    assert service.verify(ok.json["access_token"]).handle == pair.handle
    again = client.post("/token/refresh", json={"refresh_token": pair.refresh_token})
    assert again.status_code == 401 and again.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "method,kwargs,status",
    [
        ("GET", {}, 405),
        ("POST", {"data": b"[]", "content_type": "application/json"}, 400),
        ("POST", {"data": b'{"refresh_token": "x"}', "content_type": "text/plain"}, 415),
        ("POST", {"data": b"x" * 9000}, 413),
        ("POST", {"json": {}, "query_string": "refresh_token=x"}, 400),
    ],
)
def test_wsgi_bad_requests_get_small_json_errors(service, method, kwargs, status) -> None:
    """The WSGI endpoint answers bad input with the same JSON errors as the ASGI one."""
    response = Client(wsgi_refresh_endpoint(service)).open("/r", method=method, **kwargs)
    assert response.status_code == status
    assert "error" in json.loads(response.data)


def test_wsgi_store_down_answers_503(make_service) -> None:
    """A store failure during refresh is a 503 JSON reply, not a 500 page."""
    from sessionware.backends import MemoryBackend
    from sessionware.errors import BackendUnavailable

    class Down(MemoryBackend):
        def load_handle(self, handle, now):
            raise BackendUnavailable("down")

    service = make_service(backend=Down())
    response = Client(wsgi_refresh_endpoint(service)).post(
        "/r", json={"refresh_token": f"h.{'A' * 64}"}
    )
    assert response.status_code == 503 and response.json["error"] == "temporarily_unavailable"


@pytest.mark.parametrize("origin", ["https://*", "https://a*.example.com", "https://*.com*"])
@pytest.mark.parametrize("make", [refresh_endpoint, wsgi_refresh_endpoint])
def test_refresh_endpoints_refuse_loose_wildcards_like_the_config(service, make, origin) -> None:
    """``https://*`` would admit every https site: a ConfigError, as in SessionConfig."""
    from sessionware.errors import ConfigError

    with pytest.raises(ConfigError, match="wildcard"):
        make(service, allowed_origins=[origin])
