"""Shared helpers for the integration tests."""

from __future__ import annotations

from typing import Any

#: A 48-character test secret (tests only; real apps use `sessionware keygen`).
SECRET = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"
OLD_SECRET = "the-old-framework-secret"


def set_cookies(response: Any) -> list[str]:
    """Every Set-Cookie header of an httpx/werkzeug response."""
    headers = response.headers
    if hasattr(headers, "get_list"):
        return list(headers.get_list("set-cookie"))
    return list(headers.getlist("Set-Cookie"))


def cookie_named(response: Any, name: str) -> str | None:
    """The Set-Cookie header for ``name``, or None."""
    for header in set_cookies(response):
        if header.split("=", 1)[0] == name:
            return header
    return None


def attributes(header: str) -> dict[str, str]:
    """Set-Cookie attributes, lower-cased names (flags map to "")."""
    out = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        out[key.lower()] = value
    return out
