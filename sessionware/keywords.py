"""Middleware keywords to config fields: Starlette's spellings and the cookie-name rule.

The middlewares accept :class:`~sessionware.config.SessionConfig` fields as
keywords, and also Starlette's own ``SessionMiddleware`` keywords so that an
app switches by changing one import.  This module is the translation (see
:mod:`sessionware.integrations.starlette` for the table users read); it sits
with the config in the core, so the adapters need nothing above them.
"""


from __future__ import annotations

from typing import Any

from .errors import ConfigError

__all__ = ["STARLETTE_KEYWORDS", "default_cookie_name", "translate"]

#: Keywords only Starlette's middleware takes; any of them switches the translation on.
STARLETTE_KEYWORDS = frozenset(
    {"secret_key", "session_cookie", "max_age", "https_only", "partitioned"}
)
_RENAMES = {"session_cookie": "cookie_name", "https_only": "secure"}
#: Our default idle limit and touch interval (kept in step with SessionConfig).
_IDLE = 30 * 60.0
_TOUCH = 60.0


def translate(fields: dict[str, Any]) -> dict[str, Any]:
    """Our config keywords for a mix of Starlette's and ours (a new dict)."""
    if not fields.keys() & STARLETTE_KEYWORDS:
        return fields
    out = dict(fields)
    if "secret_key" in out:
        key = out.pop("secret_key")
        _no_clash(out, "secret_key", "secret_keys")
        # starlette.datastructures.Secret hides its value from repr; str() reveals it.
        out["secret_keys"] = [key if isinstance(key, str | bytes) else str(key)]
    for theirs, ours in _RENAMES.items():
        if theirs in out:
            _no_clash(out, theirs, ours)
            out[ours] = out.pop(theirs)
    if out.pop("partitioned", False):
        raise ConfigError("partitioned=True (CHIPS) is not supported by sessionware yet")
    if "max_age" in out:
        max_age = out.pop("max_age")
        if max_age is not None:
            _apply_max_age(out, max_age)
    if "secure" in out:
        out["secure"] = bool(out["secure"])
    if "cookie_name" not in out:
        out["cookie_name"] = default_cookie_name(
            out.get("secure", True), out.get("path", "/"), out.get("domain")
        )
    return out


def _no_clash(fields: dict[str, Any], theirs: str, ours: str) -> None:
    if ours in fields:
        raise ConfigError(f"{theirs} and {ours} name the same setting; pass only one of them")


def _apply_max_age(out: dict[str, Any], max_age: Any) -> None:
    if isinstance(max_age, bool) or not isinstance(max_age, int | float) or not max_age > 0:
        raise ConfigError(f"max_age must be a positive number of seconds or None, got {max_age!r}")
    _no_clash(out, "max_age", "absolute_timeout")
    seconds = float(max_age)
    out["absolute_timeout"] = seconds
    if "idle_timeout" not in out and seconds < _IDLE:
        out["idle_timeout"] = seconds
    idle = out.get("idle_timeout", _IDLE)
    idle_s = idle.total_seconds() if hasattr(idle, "total_seconds") else float(idle)
    if "touch_interval" not in out and idle_s <= _TOUCH:
        out["touch_interval"] = idle_s / 2
    if "remember_absolute_timeout" not in out and seconds > 90 * 86400:
        out["remember_absolute_timeout"] = seconds


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
