"""Starlette drop-in: ``SessionMiddleware`` accepts Starlette's keywords.

An app written for ``starlette.middleware.sessions.SessionMiddleware`` keeps
working when only the import changes::

    from sessionware import SessionMiddleware          # was: starlette.middleware.sessions
    app.add_middleware(SessionMiddleware, secret_key=SECRET, max_age=3600)

``request.session`` stays a JSON dict with Starlette's ``accessed`` /
``modified`` contract; ``clear()`` ends the session; websockets read it.
What changes is where the data lives (server-side, behind an opaque signed
ID) and the defaults, which are the safe ones.  The mapping, keyword by
keyword:

===================  =========================================================
Starlette            sessionware
===================  =========================================================
``secret_key``       ``secret_keys=[secret_key]`` (``Secret`` objects accepted);
                     still at least 32 bytes, refused otherwise (no silent
                     weak default).
``session_cookie``   ``cookie_name``.  When absent, the strongest prefix the
                     other attributes allow: ``__Host-session`` (Secure,
                     ``Path=/``, no Domain), else ``__Secure-session``, else
                     ``session`` (see :func:`~sessionware.integrations.default_cookie_name`).
``max_age``          the session's *absolute* lifetime (``absolute_timeout``),
                     enforced on the server.  Starlette re-signs the cookie on
                     every write, so its ``max_age`` bounds how long a session
                     may live; we keep that bound and add the idle timeout
                     (30 min, shortened to ``max_age`` if that is shorter).
                     The cookie itself stays non-persistent (CK-04): use
                     ``session.login(user, remember=True)`` for "stay signed
                     in".  ``max_age=None`` keeps our defaults (12 h).
``path``             ``path`` (same name).
``same_site``        ``same_site`` (same name).
``https_only``       ``secure``.  **Not given means Secure** (Starlette's
                     default is ``False``): every current browser accepts a
                     Secure cookie from ``http://localhost``, so local
                     development keeps working, and production never sends
                     the session over plain HTTP (ASVS v4.0.3-3.4.1).  Pass
                     ``https_only=False`` for plain HTTP on other hosts; the
                     cookie is then named ``session``.  Test clients must use
                     an ``https://`` base URL (Python cookie jars withhold
                     Secure cookies over ``http``; CK-09).
``domain``           ``domain`` (same name).
``partitioned``      ``False`` accepted; ``True`` refused (not supported yet).
===================  =========================================================

Starlette's keywords and ours may be mixed, but one setting given under both
names (``secret_key`` and ``secret_keys``) is a :class:`ConfigError`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from . import default_cookie_name

__all__ = ["STARLETTE_KEYWORDS", "translate"]

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
