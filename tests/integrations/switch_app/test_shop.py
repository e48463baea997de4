"""The shop's own tests, as its authors wrote them for Starlette's TestClient.

Parametrized over the shop as written and the shop with only its import
changed to ``from sessionware import SessionMiddleware``.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from starlette.testclient import TestClient

SOURCE = (Path(__file__).parent / "shop.py").read_text()
STARLETTE_IMPORT = "from starlette.middleware.sessions import SessionMiddleware"


def load(switched: bool) -> types.ModuleType:
    """The shop module, with the import swapped when ``switched``."""
    source = SOURCE
    if switched:
        assert STARLETTE_IMPORT in source
        source = source.replace(STARLETTE_IMPORT, "from sessionware import SessionMiddleware")
    module = types.ModuleType("shop_switched" if switched else "shop")
    exec(compile(source, "shop.py", "exec"), module.__dict__)
    return module


@pytest.fixture(params=[False, True], ids=["starlette", "sessionware"])
def client(request: pytest.FixtureRequest) -> TestClient:
    return TestClient(load(request.param).app)


def test_anonymous_home(client: TestClient) -> None:
    """A fresh visitor has no user and an empty cart."""
    assert client.get("/").json() == {"user": None, "cart": []}


def test_login_then_home(client: TestClient) -> None:
    """Signing in is remembered on the next request."""
    response = client.post("/login", data={"name": "ada"})
    assert response.status_code == 200
    assert response.json()["user"] == "ada"


def test_cart_accumulates(client: TestClient) -> None:
    """Items added one request at a time are all in the cart."""
    client.post("/cart/apple")
    assert client.post("/cart/pear").json() == {"cart": ["apple", "pear"]}
    assert client.get("/").json()["cart"] == ["apple", "pear"]


def test_logout_forgets_everything(client: TestClient) -> None:
    """Logging out empties the session."""
    client.post("/login", data={"name": "ada"})
    client.post("/cart/apple")
    assert client.post("/logout").json() == {"user": None, "cart": []}


def test_cookie_is_persistent(client: TestClient) -> None:
    """The session cookie lasts the configured week."""
    response = client.post("/cart/apple")
    assert "max-age=604800" in response.headers["set-cookie"].lower()
