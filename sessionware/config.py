"""SessionConfig: every knob, validated once, frozen.

The defaults are the safe choice (OWASP Session Management Cheat Sheet, ASVS
4.0.3 V3 / 5.0 V7).  Unsafe combinations are refused at construction with a
:class:`~sessionware.errors.ConfigError` that names the field, so a typo
never silently weakens a deployment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from .errors import ConfigError

if TYPE_CHECKING:
    from .events import Event

__all__ = ["Duration", "SessionConfig"]

Duration = float | int | timedelta
SameSite = Literal["lax", "strict", "none"]
UrlIdPolicy = Literal["reject", "ignore"]
Binding = Literal["off", "log", "revoke"]

#: RFC 6265bis §5.5: user agents cap Max-Age/Expires at 400 days.
MAX_COOKIE_AGE = 400 * 24 * 3600
MIN_SECRET_BYTES = 32


def _seconds(name: str, value: Duration | None, *, optional: bool = False) -> float | None:
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise ConfigError(f"{name} must be seconds or a timedelta, got {value!r}")
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError(f"{name} must be a positive, finite duration, got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How sessions are identified, carried and expired.

    Timeouts accept seconds or :class:`datetime.timedelta`; after construction
    the ``*_s`` attributes hold them as float seconds.

    .. versionadded:: 0.1
    """

    secret_keys: Sequence[str | bytes] = ()
    cookie_name: str = "__Host-session"
    secure: bool = True
    http_only: bool = True
    same_site: SameSite = "lax"
    path: str = "/"
    domain: str | None = None
    idle_timeout: Duration = 30 * 60
    absolute_timeout: Duration = 12 * 3600
    remember_timeout: Duration = 30 * 24 * 3600
    remember_absolute_timeout: Duration = 90 * 24 * 3600
    renew_interval: Duration | None = None
    touch_interval: Duration = 60
    url_id_policy: UrlIdPolicy = "reject"
    max_data_bytes: int = 64 * 1024
    max_sessions_per_user: int | None = None
    binding: Binding = "log"
    trusted_proxies: Sequence[str] = ()
    #: Send ``Clear-Site-Data`` on logout (CK-08); off by default because it
    #: also wipes the app's own caches and storage.
    clear_site_data: bool = False
    #: Called with every security :class:`~sessionware.events.Event`.
    on_event: Callable[[Event], None] | None = None

    idle_s: float = field(init=False, repr=False, compare=False)
    absolute_s: float = field(init=False, repr=False, compare=False)
    remember_s: float = field(init=False, repr=False, compare=False)
    remember_absolute_s: float = field(init=False, repr=False, compare=False)
    renew_s: float | None = field(init=False, repr=False, compare=False)
    touch_s: float = field(init=False, repr=False, compare=False)
    secrets: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Listed once up front: a generator would be consumed by the checks below,
        # leaving secret_keys empty.
        raw: object = self.secret_keys
        items: list[object] = (
            [] if raw is None else [raw] if isinstance(raw, str | bytes) else list(self.secret_keys)
        )
        keys: list[str | bytes] = []
        for i, key in enumerate(items):
            if isinstance(key, bytearray):
                key = bytes(key)
            if not isinstance(key, str | bytes):
                # bytes(40) would silently become forty zero bytes: refuse anything else.
                raise ConfigError(
                    f"secret_keys[{i}] must be str or bytes, got {type(key).__name__}"
                )
            keys.append(key)
        if not keys:
            raise ConfigError(
                "secret_keys is required: pass at least one random secret of 32+ bytes "
                "(generate one with `sessionware keygen`)"
            )
        secrets = tuple(k.encode() if isinstance(k, str) else k for k in keys)
        for i, key in enumerate(secrets):
            if len(key) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"secret_keys[{i}] is {len(key)} bytes; at least {MIN_SECRET_BYTES} "
                    "random bytes are required (generate one with `sessionware keygen`)"
                )
        set_ = object.__setattr__
        set_(self, "secrets", secrets)
        set_(self, "secret_keys", tuple(keys))
        set_(self, "idle_s", _seconds("idle_timeout", self.idle_timeout))
        set_(self, "absolute_s", _seconds("absolute_timeout", self.absolute_timeout))
        set_(self, "remember_s", _seconds("remember_timeout", self.remember_timeout))
        set_(
            self,
            "remember_absolute_s",
            _seconds("remember_absolute_timeout", self.remember_absolute_timeout),
        )
        set_(self, "renew_s", _seconds("renew_interval", self.renew_interval, optional=True))
        set_(self, "touch_s", _seconds("touch_interval", self.touch_interval))
        self._check_timeouts()
        self._check_cookie()
        if self.url_id_policy not in ("reject", "ignore"):
            raise ConfigError(
                f"url_id_policy must be 'reject' or 'ignore', got {self.url_id_policy!r}"
            )
        if self.binding not in ("off", "log", "revoke"):
            raise ConfigError(f"binding must be 'off', 'log' or 'revoke', got {self.binding!r}")
        if isinstance(self.max_data_bytes, bool) or self.max_data_bytes <= 0:
            raise ConfigError(f"max_data_bytes must be positive, got {self.max_data_bytes!r}")
        if self.max_sessions_per_user is not None and self.max_sessions_per_user < 1:
            raise ConfigError("max_sessions_per_user must be None or at least 1")
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ConfigError(f"trusted_proxies: {cidr!r} is not an IP or CIDR") from exc
        set_(self, "trusted_proxies", tuple(self.trusted_proxies))

    def _check_timeouts(self) -> None:
        if self.idle_s > self.absolute_s:
            raise ConfigError(
                f"idle_timeout ({self.idle_s:g}s) is longer than absolute_timeout "
                f"({self.absolute_s:g}s)"
            )
        if self.remember_s > self.remember_absolute_s:
            raise ConfigError(
                f"remember_timeout ({self.remember_s:g}s) is longer than "
                f"remember_absolute_timeout ({self.remember_absolute_s:g}s)"
            )
        if self.remember_absolute_s < self.absolute_s:
            raise ConfigError("remember_absolute_timeout is shorter than absolute_timeout")
        if self.touch_s >= self.idle_s:
            raise ConfigError("touch_interval must be shorter than idle_timeout")

    def _check_cookie(self) -> None:
        # RFC 6265bis §4.1.3 and §5.4: prefixes match case-insensitively.
        name = self.cookie_name
        if not name or any(c in name for c in ' =;,"\\\t\r\n') or not name.isascii():
            raise ConfigError(f"cookie_name {name!r} is not a valid cookie name")
        if self.same_site not in ("lax", "strict", "none"):
            raise ConfigError(
                f"same_site must be 'lax', 'strict' or 'none', got {self.same_site!r}"
            )
        if self.same_site == "none" and not self.secure:
            raise ConfigError("same_site='none' requires secure=True (browsers drop it otherwise)")
        lowered = name.lower()
        if lowered.startswith("__host-"):
            if not name.startswith("__Host-"):
                raise ConfigError(f"cookie_name {name!r}: write the prefix exactly as '__Host-'")
            if not self.secure:
                raise ConfigError(
                    "a '__Host-' cookie requires secure=True; for plain-HTTP development use "
                    "a name without the prefix, e.g. cookie_name='session', secure=False"
                )
            if self.domain is not None:
                raise ConfigError("a '__Host-' cookie must not set a domain")
            if self.path != "/":
                raise ConfigError("a '__Host-' cookie must use path='/'")
        elif lowered.startswith("__secure-"):
            if not name.startswith("__Secure-"):
                raise ConfigError(f"cookie_name {name!r}: write the prefix exactly as '__Secure-'")
            if not self.secure:
                raise ConfigError("a '__Secure-' cookie requires secure=True")
        if not self.path.startswith("/"):
            raise ConfigError(f"path must start with '/', got {self.path!r}")
        for attr in (self.path, self.domain or ""):
            if len(attr) > 1024 or any(c in attr for c in ";\r\n"):
                raise ConfigError(f"cookie attribute {attr[:40]!r} is invalid")

    def idle_for(self, remember: bool) -> float:
        """The idle limit of a session (remember-me sessions have their own)."""
        return self.remember_s if remember else self.idle_s

    def absolute_for(self, remember: bool) -> float:
        """The absolute limit of a session (remember-me sessions have their own)."""
        return self.remember_absolute_s if remember else self.absolute_s
