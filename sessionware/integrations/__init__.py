"""Framework integrations: Starlette drop-in, FastAPI dependencies, Flask, legacy migration.

Import the one you need by path (``sessionware.integrations.fastapi``...);
each names the extra it requires when that is missing.  This package itself
only holds the cookie-name rule the compatibility layers share.
"""

from __future__ import annotations

__all__ = ["default_cookie_name"]


def default_cookie_name(secure: bool, path: str = "/", domain: str | None = None) -> str:
    """The strongest cookie-name prefix the given attributes allow.

    Used when an app arrives with another framework's settings (Starlette's
    ``https_only``, Flask's ``SESSION_COOKIE_*``) but names no cookie: we keep
    the prefix protection whenever the browser will accept it instead of
    falling back to the other framework's unprefixed ``session`` (RFC 6265bis
    §4.1.3; ASVS v4.0.3-3.4.4, v5.0.0-3.3.1/3.3.3).

    * Secure, ``Path=/``, no Domain: ``__Host-session``;
    * Secure with a narrower path or a Domain: ``__Secure-session``;
    * not Secure (plain-HTTP development): ``session``.
    """
    if not secure:
        return "session"
    if path == "/" and domain is None:
        return "__Host-session"
    return "__Secure-session"
