"""``sessionware audit``: a configuration checked against OWASP ASVS and the cheat sheet.

Each check names the requirement it comes from (ASVS IDs as
``v4.0.3-3.4.1`` / ``v5.0.0-3.3.1``; the OWASP Session Management Cheat Sheet
as ``OWASP-CS``; our checklist IDs where the standard is silent).  A check
that ASVS requires at or below the chosen level fails; one required only at
a higher level, or that is advice rather than a requirement, warns.  So
``sessionware audit myapp:app`` in CI fails the build the way Django's
``manage.py check --deploy`` does, at the level you choose.

The checks only read the config (and the backend type); they never connect
to anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import SessionConfig
from ..plain_http import FRAMEWORK_SPELLINGS, NATIVE_SPELLING, secure_notice

__all__ = ["Finding", "audit", "find_config"]

#: Framework-default cookie names that fingerprint the stack (OWASP CS "Session ID Name
#: Fingerprinting"; ID-04).  Prefixed names are never flagged.
FINGERPRINTS = frozenset(
    {
        "session",
        "sessionid",
        "jsessionid",
        "phpsessid",
        "connect.sid",
        "asp.net_sessionid",
        "cfid",
        "cftoken",
        "laravel_session",
        "_session_id",
    }
)
_PLACEHOLDERS = ("changeme", "change-me", "secret", "password", "example", "insecure", "dev-key")


@dataclass(frozen=True, slots=True)
class Finding:
    """One checked item: ``status`` is PASS, WARN, FAIL or INFO."""

    status: str
    ids: str
    message: str
    advice: str = ""


def _required(ok: bool, level: int, required_at: int) -> str:
    if ok:
        return "PASS"
    return "FAIL" if level >= required_at else "WARN"


def _minutes(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def _cookie(cfg: SessionConfig, level: int) -> list[Finding]:
    secure = Finding(
        _required(bool(cfg.secure), level, 1),
        "v4.0.3-3.4.1 v5.0.0-3.3.1",
        "Cookie is Secure"
        if cfg.secure
        else "Cookie is not Secure: " + secure_notice(NATIVE_SPELLING, cfg.cookie_name),
        "" if cfg.secure else "remove secure=False outside development",
    )
    if cfg.secure == "auto":
        secure = Finding(
            "WARN",
            "v4.0.3-3.4.1 v5.0.0-3.3.1",
            "Cookie " + secure_notice(FRAMEWORK_SPELLINGS[0], cfg.cookie_name),
            "serve HTTPS only, or pass https_only=True / SESSION_COOKIE_SECURE=True",
        )
    out = [
        secure,
        Finding(
            _required(cfg.http_only, level, 1),
            "v4.0.3-3.4.2 v5.0.0-3.3.4",
            "Cookie is HttpOnly"
            if cfg.http_only
            else "Cookie is readable by JavaScript (no HttpOnly)",
            "" if cfg.http_only else "remove http_only=False / SESSION_COOKIE_HTTPONLY=False",
        ),
        Finding(
            _required(cfg.same_site != "none", level, 1),
            "v4.0.3-3.4.3 v5.0.0-3.3.2",
            f"SameSite={cfg.same_site.capitalize()}",
            "use same_site='lax' or 'strict'" if cfg.same_site == "none" else "",
        ),
    ]
    name = cfg.cookie_name
    if name.startswith("__Host-"):
        out.append(Finding("PASS", "v4.0.3-3.4.4 v5.0.0-3.3.3", f"Cookie name {name} has __Host-"))
    elif name.startswith("__Secure-"):
        out.append(
            Finding(
                "WARN",
                "v5.0.0-3.3.3",
                f"Cookie name {name} has __Secure- but not __Host-",
                "fine only if the cookie must reach other hosts or paths; else drop domain/path",
            )
        )
    else:
        out.append(
            Finding(
                _required(False, level, 1),
                "v4.0.3-3.4.4 v5.0.0-3.3.1",
                f"Cookie name {name} has no __Host- or __Secure- prefix",
                "use the default cookie_name='__Host-session'",
            )
        )
    if name.lower() in FINGERPRINTS:
        out.append(
            Finding(
                "WARN",
                "OWASP-CS ID-04",
                f"Cookie name {name} is a framework default that fingerprints the stack",
                "use a generic, prefixed name such as __Host-session",
            )
        )
    if cfg.domain is not None:
        out.append(
            Finding(
                "WARN",
                "v4.0.3-3.4.5 OWASP-CS",
                f"Cookie has Domain={cfg.domain}: every subdomain receives the session",
                "leave domain unset unless subdomains must share the session",
            )
        )
    return out


def _expiry(cfg: SessionConfig, level: int) -> list[Finding]:
    idle_limit = 15 * 60 if level >= 3 else 30 * 60
    out = [
        Finding(
            _required(cfg.idle_s <= idle_limit, level, 2),
            "v4.0.3-3.3.2 v5.0.0-7.3.1",
            f"Idle timeout is {_minutes(cfg.idle_s)}"
            + (
                ""
                if cfg.idle_s <= idle_limit
                else f"; level {max(level, 2)} expects at most {_minutes(idle_limit)}"
            ),
            "" if cfg.idle_s <= idle_limit else f"set idle_timeout={idle_limit} or less",
        ),
        Finding(
            _required(cfg.absolute_s <= 12 * 3600, level, 2),
            "v4.0.3-3.3.2 v5.0.0-7.3.2",
            f"Absolute timeout is {_minutes(cfg.absolute_s)}"
            + ("" if cfg.absolute_s <= 12 * 3600 else "; ASVS expects at most 12 h"),
            "" if cfg.absolute_s <= 12 * 3600 else "set absolute_timeout=43200 or less",
        ),
    ]
    if cfg.remember_absolute_s > 30 * 86400:
        out.append(
            Finding(
                "WARN",
                "v4.0.3-3.3.2 v5.0.0-7.3.2",
                f"Remember-me sessions last up to {_minutes(cfg.remember_absolute_s)}; ASVS 4.0.3 "
                "asks for re-authentication every 30 d (5.0 leaves it to your risk analysis)",
                "set remember_absolute_timeout=30*86400, or document why longer is acceptable",
            )
        )
    else:
        out.append(
            Finding(
                "PASS",
                "v4.0.3-3.3.2",
                f"Remember-me sessions end after {_minutes(cfg.remember_absolute_s)}",
            )
        )
    return out


def _identity(cfg: SessionConfig, level: int) -> list[Finding]:
    out = []
    reject = cfg.url_id_policy == "reject"
    out.append(
        Finding(
            "PASS" if reject else "WARN",
            "v4.0.3-3.1.1 v5.0.0-14.2.1",
            "Session IDs in URLs are refused with 400"
            if reject
            else "Session IDs in URLs are ignored but not refused (no alert for the attempt)",
            "" if reject else "use url_id_policy='reject'",
        )
    )
    weak = [
        i
        for i, key in enumerate(cfg.secrets)
        if len(set(key)) < 8 or any(p.encode() in key.lower() for p in _PLACEHOLDERS)
    ]
    out.append(
        Finding(
            "FAIL" if weak else "PASS",
            "v5.0.0-11.2.2 ID-07",
            f"secret_keys{weak} look low-entropy or like placeholders"
            if weak
            else f"{len(cfg.secrets)} signing key(s), none obviously weak",
            "generate keys with `sessionware keygen`" if weak else "",
        )
    )
    out.append(
        Finding(
            "PASS" if cfg.binding != "off" else ("FAIL" if level >= 3 else "WARN"),
            "OWASP-CS AN-03",
            f"Client binding is '{cfg.binding}'",
            "use binding='log' (or 'revoke')" if cfg.binding == "off" else "",
        )
    )
    if cfg.grace_s > 60:
        out.append(
            Finding(
                "WARN",
                "FX-07",
                f"rotation_grace is {cfg.grace_s:g} s: a renewed-away ID stays usable that long",
                "a few seconds covers requests in flight (the default is 5 s)",
            )
        )
    if any(n.endswith("/0") for n in cfg.trusted_proxies):
        out.append(
            Finding(
                "FAIL",
                "FX-08",
                "trusted_proxies trusts every address: clients can forge their IP",
                "list only your proxies' addresses",
            )
        )
    elif not cfg.trusted_proxies:
        # The middleware warns (once) and raises `untrusted_forwarding` when it
        # actually sees forwarding headers from an unlisted peer (#13).
        out.append(
            Finding(
                "INFO",
                "FX-08 AN-01",
                "No trusted_proxies: X-Forwarded-For / Forwarded are ignored, so behind an "
                "unlisted reverse proxy every user shares the proxy's address",
                "behind a proxy, list its address in trusted_proxies "
                "(the middleware logs an untrusted-forwarding warning when it sees such headers)",
            )
        )
    return out


def _operations(cfg: SessionConfig, level: int, backend: str | None) -> list[Finding]:
    out = []
    if cfg.max_data_bytes > 64 * 1024:
        out.append(
            Finding(
                "WARN",
                "RS-03",
                f"max_data_bytes is {cfg.max_data_bytes}; large sessions cost every request",
            )
        )
    if cfg.max_sessions_per_user is None:
        out.append(
            Finding(
                "INFO",
                "v5.0.0-7.1.2",
                "No limit on concurrent sessions per user; document that this is intended",
                "or set max_sessions_per_user",
            )
        )
    if not cfg.clear_site_data:
        out.append(
            Finding(
                "INFO",
                "v5.0.0-14.3.1 CK-08",
                "Logout does not send Clear-Site-Data",
                "set clear_site_data=True",
            )
        )
    if backend == "MemoryBackend":
        from ..deployment import worker_count

        workers = worker_count()
        several = workers is not None and workers > 1
        out.append(
            Finding(
                "WARN" if several else "INFO",
                "-",
                "MemoryBackend keeps sessions in one process: restarts sign everyone out, "
                "and several workers do not share sessions"
                + (f" (this server runs {workers} workers)" if several else ""),
                "use a SQL or Redis backend in production",
            )
        )
    return out


CHECKS: tuple[Callable[[SessionConfig, int], list[Finding]], ...] = (_cookie, _expiry, _identity)


def audit(config: SessionConfig, *, level: int = 2, backend: str | None = None) -> list[Finding]:
    """Every finding for ``config`` at ASVS ``level`` (1-3); ``backend`` is a class name."""
    if level not in (1, 2, 3):
        raise ValueError("level must be 1, 2 or 3")
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(config, level))
    findings.extend(_operations(config, level, backend))
    return findings


def find_config(obj: Any, *, _depth: int = 0) -> tuple[SessionConfig, str | None]:
    """The config (and backend class name) inside what ``module:attribute`` named.

    Accepts a :class:`SessionConfig`, either middleware, a Flask app with
    :class:`~sessionware.integrations.flask.Sessionware`, a Starlette or
    FastAPI app with our middleware added, anything wrapping one of those in
    ``.app`` / ``.wsgi_app``, or a zero-argument factory returning one.
    """
    if _depth > 12:
        raise LookupError("no sessionware configuration found")
    if isinstance(obj, SessionConfig):
        return obj, None
    config = getattr(obj, "config", None)
    if isinstance(config, SessionConfig):
        backend = getattr(obj, "backend", None)
        return config, None if backend is None else type(backend).__name__
    extensions = getattr(obj, "extensions", None)
    if isinstance(extensions, dict) and "sessionware" in extensions:
        return find_config(extensions["sessionware"].middleware, _depth=_depth + 1)
    for item in getattr(obj, "user_middleware", None) or ():
        from ..asgi import SessionMiddleware

        cls = getattr(item, "cls", None)
        if isinstance(cls, type) and issubclass(cls, SessionMiddleware):
            built = cls(_no_app, *getattr(item, "args", ()), **getattr(item, "kwargs", {}))
            return built.config, type(built.backend).__name__
    for name in ("app", "wsgi_app", "middleware"):
        inner = getattr(obj, name, None)
        if inner is not None and inner is not obj:
            try:
                return find_config(inner, _depth=_depth + 1)
            except LookupError:
                pass
    if _depth == 0 and callable(obj) and not isinstance(obj, type):
        try:
            made = obj()
        except TypeError:
            made = None
        if made is not None:
            return find_config(made, _depth=_depth + 1)
    raise LookupError("no sessionware configuration found")


async def _no_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    raise RuntimeError("built only to read its configuration")
