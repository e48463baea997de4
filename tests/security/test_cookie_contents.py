"""What the browser holds: a meaningless, bounded cookie (ID-03, TM-04, CK-06).

ASVS 5.0 3.3.5 and 14.3.3, 4.0.3 3.2.3: the only thing in browser storage is
the session cookie, it carries no user data, and it stays within what
browsers accept.
"""

from __future__ import annotations

import base64
import re

import pytest

from sessionware import SessionConfig, SessionManager
from sessionware.errors import ConfigError
from sessionware.ids import SIGNED_LENGTH

from .conftest import Site

SHAPE = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")


def _cookie(client) -> str:
    value = client.cookies.get("__Host-session")
    assert value is not None
    return value


def test_cookie_reveals_nothing_but_random_bytes_and_a_signature(site: Site) -> None:
    """A logged-in cookie is ID.SIGNATURE, two 32-byte base64 blocks, with no user or data."""
    with site.client() as client:
        client.post("/login", json={"user": "alice@example.com", "data": {"role": "admin"}})
        value = _cookie(client)
    assert SHAPE.fullmatch(value)
    session_id, signature = value.split(".")
    raw = base64.urlsafe_b64decode(session_id + "=")
    assert len(raw) == 32 and len(base64.urlsafe_b64decode(signature + "=")) == 32
    for secret in (b"alice", b"example.com", b"admin", b"role"):
        assert secret not in raw
        assert secret.decode() not in value


def test_nothing_else_is_stored_in_the_browser(site: Site) -> None:
    """The middleware sets exactly one cookie, and its value never appears in a body."""
    with site.client() as client:
        response = client.post("/login", json={"user": "bob", "data": {"k": "v"}})
        value = _cookie(client)
        read = client.get("/data")
    assert len(response.headers.get_list("set-cookie")) == 1
    assert value not in response.text and value not in read.text
    assert value.split(".")[0] not in read.text


def test_a_handle_presented_as_a_cookie_opens_nothing(site: Site) -> None:
    """The public handle is not a credential: as a cookie it is an anonymous request (TM-04)."""
    with site.client() as client:
        client.post("/login", json={"user": "carol"})
    (info,) = SessionManager(site.backend, clock=site.clock).list_sessions("carol")
    handle = info.handle
    with site.client() as thief:
        for value in (handle, f"{handle}.{handle}", f"{handle * 2}_.{handle * 2}_"):
            response = thief.get("/data", headers={"cookie": f"__Host-session={value}"})
            assert response.json() == {"user": None, "data": {}}
    # None has our signed shape: each is a foreign cookie (#13), never a session.
    assert site.kinds().count("bad_signature") + site.kinds().count("foreign_cookie") == 3


def test_every_set_cookie_stays_within_browser_limits(site: Site) -> None:
    """Name + value stay under 4096 bytes and every attribute under 1024 (CK-06, 3.3.5)."""
    with site.client() as client:
        headers = client.post("/login", json={"user": "dave", "remember": True}).headers
        headers_out = client.post("/logout").headers
    for header in [*headers.get_list("set-cookie"), *headers_out.get_list("set-cookie")]:
        pair, *attributes = header.split(";")
        assert len(pair.strip()) <= 4096
        assert all(len(a.strip().partition("=")[2]) <= 1024 for a in attributes)


def test_a_cookie_name_that_would_pass_4096_bytes_is_a_config_error() -> None:
    """The limit is enforced at construction, never at a user's first login (CK-06)."""
    longest = 4096 - 1 - SIGNED_LENGTH
    SessionConfig(secret_keys=["k" * 32], cookie_name="s" * longest, secure=False)
    with pytest.raises(ConfigError, match="4096"):
        SessionConfig(secret_keys=["k" * 32], cookie_name="s" * (longest + 1), secure=False)
    for attribute in ({"path": "/" + "p" * 1024}, {"domain": "d" * 1025}):
        with pytest.raises(ConfigError):
            SessionConfig(secret_keys=["k" * 32], cookie_name="sid", **attribute)
