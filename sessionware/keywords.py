"""Middleware keywords to config fields: the Starlette profile and the cookie-name rule.

The middlewares accept :class:`~sessionware.config.SessionConfig` fields as
keywords, and also Starlette's own ``SessionMiddleware`` keywords so that an
app switches by changing one import.  Starlette's keywords select the
*Starlette profile*: the cookie, its lifetime and its ``Secure`` flag behave
as Starlette's do, while everything server-side stays hardened (see
:mod:`sessionware.integrations.starlette` for the table users read).  This
module is the translation; it sits with the config in the core, so the
adapters need nothing above them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

__all__ = ["STARLETTE_KEYWORDS", "default_cookie_name", "relaxed", "translate"]

log = logging.getLogger("sessionware")

#: Keywords only Starlette's middleware takes; any of them switches the profile on.
#: (``partitioned``, ``path``, ``domain`` and ``same_site`` are native fields too.)
STARLETTE_KEYWORDS = frozenset({"secret_key", "session_cookie", "max_age", "https_only"})
#: Starlette's keyword -> the native keyword naming the same setting (a clash if both).
_CLASHES = {
    "secret_key": "secret_keys",
    "session_cookie": "cookie_name",
    "https_only": "secure",
    "max_age": "idle_timeout",
}
#: Starlette's default ``max_age``: 14 days.
STARLETTE_MAX_AGE = 14 * 86400
#: Starlette never ends a session it still holds a cookie for: no absolute limit.
#: Ten years stands in for "none" (the cookie itself is capped at 400 days).
UNBOUNDED = 3650 * 86400.0
#: Server-side idle limit when Starlette's cookie has no age limit (``max_age=None``/0).
_NO_AGE_IDLE = 400 * 86400.0
#: Our native defaults (kept in step with SessionConfig), for the relaxation log line.
_NATIVE = {
    "idle_timeout": 30 * 60.0,
    "absolute_timeout": 12 * 3600.0,
    "cookie_name": "__Host-session",
    "secure": True,
    "cookie_lifetime": "remember",
}
_TOUCH = 60.0


def translate(fields: dict[str, Any]) -> dict[str, Any]:
    """Our config keywords for Starlette's (a new dict); native keywords pass through.

    Starlette's keyword and the native one for the same setting together
    (``max_age`` and ``idle_timeout``...) are a :class:`ConfigError` naming both.
    """
    if not fields.keys() & STARLETTE_KEYWORDS:
        return fields
    for theirs, ours in _CLASHES.items():
        if theirs in fields and ours in fields:
            raise ConfigError(
                f"{theirs} (Starlette) and {ours} (sessionware) name the same setting; "
                "pass only one of them"
            )
    out = dict(fields)
    if "secret_key" in out:
        key = out.pop("secret_key")
        # starlette.datastructures.Secret hides its value from repr; str() reveals it.
        out["secret_keys"] = [key if isinstance(key, str | bytes) else str(key)]
    out["cookie_name"] = out.pop("session_cookie", "session")
    https_only = out.pop("https_only", False)
    # Starlette's default https_only=False: Secure exactly when the request came over HTTPS.
    out["secure"] = True if https_only else "auto"
    if out.pop("partitioned", False):
        out["partitioned"] = True
        if not https_only:
            raise ConfigError(
                "partitioned=True requires https_only=True (browsers accept CHIPS "
                "cookies only with Secure)"
            )
    if isinstance(out.get("same_site"), str):
        out["same_site"] = out["same_site"].lower()
    _lifetime(out, out.pop("max_age", STARLETTE_MAX_AGE))
    return out


def _lifetime(out: dict[str, Any], max_age: Any) -> None:
    """Starlette's ``max_age`` as limits: it bounds the time *between* requests."""
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int | float)):
        raise ConfigError(f"max_age must be a number of seconds or None, got {max_age!r}")
    if max_age is None:
        # No Max-Age: a browser-session cookie that Starlette never expires itself.
        idle = _NO_AGE_IDLE
    elif max_age <= 0:
        # Starlette sends Max-Age=0 or negative: the browser drops the cookie at once.
        # Half a second of server-side life gives the same cookie (Max-Age=0).
        idle = 0.5
        out["cookie_lifetime"] = "always"
    else:
        idle = float(max_age)
        out["cookie_lifetime"] = "always"
    out["idle_timeout"] = idle
    absolute = out.setdefault("absolute_timeout", max(UNBOUNDED, idle))
    absolute_s = absolute.total_seconds() if hasattr(absolute, "total_seconds") else absolute
    out.setdefault("remember_timeout", max(idle, 30 * 86400.0))
    out.setdefault("remember_absolute_timeout", max(float(absolute_s), out["remember_timeout"]))
    if "touch_interval" not in out and idle <= _TOUCH:
        out["touch_interval"] = idle / 2


def relaxed(fields: Mapping[str, Any], restore: Mapping[str, str]) -> list[str]:
    """Which native defaults ``fields`` relaxes, each with the keyword that restores it.

    ``restore`` maps a config field to the keyword the user's framework
    spells (``idle_timeout`` -> ``max_age=1800`` for Starlette).
    """
    out = []
    for name, native in _NATIVE.items():
        if name not in fields or fields[name] == native:
            continue
        value = fields[name]
        if hasattr(value, "total_seconds"):
            value = value.total_seconds()
        shown = (
            _duration(value) if isinstance(value, int | float) and name.endswith("out") else value
        )
        before = _duration(native) if isinstance(native, float) else native
        out.append(f"{name} {before}->{shown} (restore: {restore.get(name, name + '=')})")
    return out


def log_relaxed(profile: str, items: list[str]) -> None:
    """The one startup line that lists the native defaults a profile relaxes."""
    if items:
        log.warning("sessionware %s profile relaxes native defaults: %s", profile, "; ".join(items))


def _duration(seconds: Any) -> str:
    seconds = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def default_cookie_name(secure: bool, path: str = "/", domain: str | None = None) -> str:
    """The strongest cookie-name prefix the given attributes allow.

    Used when an app arrives with another framework's settings (Flask's
    ``SESSION_COOKIE_*``) but names no cookie and insists on Secure: we keep
    the prefix protection whenever the browser will accept it instead of
    falling back to the other framework's unprefixed ``session`` (RFC 6265bis
    §4.1.3; ASVS v4.0.3-3.4.4, v5.0.0-3.3.1/3.3.3).

    * Secure, ``Path=/``, no Domain: ``__Host-session``;
    * Secure with a narrower path or a Domain: ``__Secure-session``;
    * not always Secure (plain-HTTP development, ``secure="auto"``): ``session``.
    """
    if secure is not True:
        return "session"
    if path == "/" and domain is None:
        return "__Host-session"
    return "__Secure-session"
