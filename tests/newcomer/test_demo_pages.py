"""The demo's error pages and favicon over HTTP, without a browser (#15 item 9)."""

from __future__ import annotations

from starlette.testclient import TestClient

from sessionware import BackendUnavailable, MemoryBackend
from sessionware.cli.demo import create_app

SECRET = "demo-test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


class DownForWrites(MemoryBackend):
    """A store that answers reads and refuses every write, as one going down would."""

    async def aapply(self, ops, now):  # type: ignore[no-untyped-def]
        raise BackendUnavailable("Redis is unavailable: Connection refused")


def test_url_id_page_keeps_400_and_links_home() -> None:
    """The 400 for ``?sessionid=`` is an HTML page with a link back to ``/``."""
    client = TestClient(create_app(MemoryBackend(), secret_keys=[SECRET]),
                        base_url="https://testserver")
    reply = client.get("/?sessionid=5fZcXq1h9sP2mRtLw8yKdA")  # ID-like: 22+ URL-safe characters
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/html")
    assert 'href="/" data-testid="back-home"' in reply.text


def test_store_down_page_keeps_503_and_retry_after() -> None:
    """A write while the store is down is a 503 page that keeps the Retry-After header."""
    client = TestClient(create_app(DownForWrites(), secret_keys=[SECRET]),
                        base_url="https://testserver")
    reply = client.post("/count", follow_redirects=False)
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "2"
    assert "The session store is unavailable" in reply.text
    assert 'data-testid="back-home"' in reply.text


def test_favicon_ico_is_an_icon() -> None:
    """``/favicon.ico`` answers 200 with the SVG icon, not 404."""
    client = TestClient(create_app(MemoryBackend(), secret_keys=[SECRET]),
                        base_url="https://testserver")
    reply = client.get("/favicon.ico")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/svg+xml"
    assert reply.text.startswith("<svg")


def test_sign_in_copy_names_the_cookie_actually_used() -> None:
    """The sign-in card names the real cookie (``session`` with --dev-http)."""
    secure = TestClient(create_app(MemoryBackend(), secret_keys=[SECRET]),
                        base_url="https://testserver")
    assert "<code>__Host-session</code> cookie" in secure.get("/").text
    plain = TestClient(create_app(MemoryBackend(), secret_keys=[SECRET], dev_http=True),
                       base_url="http://testserver")
    assert "<code>session</code> cookie" in plain.get("/").text
