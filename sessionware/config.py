"""SessionConfig: every knob, validated once, frozen.

The defaults are the safe choice (OWASP Session Management Cheat Sheet, ASVS
4.0.3 V3 / 5.0 V7).  Unsafe combinations are refused at construction with a
:class:`~sessionware.errors.ConfigError` that names the field, so a typo
never silently weakens a deployment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from .errors import ConfigError
from .ids import SIGNED_LENGTH, fingerprint

if TYPE_CHECKING:
    from .events import Event

__all__ = ["Duration", "GuardConfig", "SessionConfig", "SharedCounter", "normalize_origin"]

Duration = float | int | timedelta
SameSite = Literal["lax", "strict", "none"]
UrlIdPolicy = Literal["reject", "ignore"]
Binding = Literal["off", "log", "revoke"]
StaleReuse = Literal["log", "revoke"]
Secure = bool | Literal["auto"]
CookieLifetime = Literal["remember", "sliding", "always"]
Codec = Literal["json", "tagged"]

#: RFC 6265bis §5.5: user agents cap Max-Age/Expires at 400 days.
MAX_COOKIE_AGE = 400 * 24 * 3600
MIN_SECRET_BYTES = 32
#: RFC 6265bis §5.7 / ASVS 5.0 3.3.5: browsers ignore a longer name + value.
MAX_COOKIE_BYTES = 4096


def as_seconds(name: str, value: Duration | None, *, optional: bool = False) -> float | None:
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


def _or_zero(name: str, value: Duration) -> float | None:
    """:func:`as_seconds`, also accepting 0 (the feature off)."""
    if isinstance(value, timedelta) and not value:
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    return as_seconds(name, value)


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` lowercased, default port dropped; None if not an origin.

    Browsers serialize ``Origin`` this way already (RFC 6454 §6.1); normalizing
    both sides lets ``allowed_origins`` be written by hand without surprises.
    """
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or not rest or "/" in rest:
        return None
    if any(c in rest for c in " \t\r\n@?#"):
        return None
    default = ":443" if scheme == "https" else ":80"
    if rest.endswith(default):
        rest = rest[: -len(default)]
    return f"{scheme}://{rest}"


def _wildcard(normal: str) -> bool:
    """``https://*.example.com`` shapes: one ``*`` as the whole leftmost label, a dotted rest."""
    _, _, rest = normal.partition("://")
    return rest.startswith("*.") and "*" not in rest[1:] and "." in rest[2:]


def allowed_origin(origin: str) -> str:
    """``origin`` normalized for ``allowed_origins``; ConfigError if no origin or a loose wildcard.

    Shared by :class:`SessionConfig` and the refresh endpoints, so that
    ``https://*`` (every https site) is refused everywhere it could be given.
    """
    normal = normalize_origin(origin)
    if normal is not None and "*" in normal and not _wildcard(normal):
        raise ConfigError(
            f"allowed_origins: {origin!r}: a wildcard must be the leftmost label, "
            "as in 'https://*.example.com'"
        )
    if normal is None:
        raise ConfigError(
            f"allowed_origins: {origin!r} is not an origin like 'https://example.com'"
        )
    return normal


class SharedCounter(Protocol):
    """Counts a client's bad events somewhere several guards can see.

    ``hit`` / ``ahit`` count one event and return ``(seconds_blocked,
    started)``: ``(0.0, False)`` while under the limit, ``started`` True for
    the event that began the block; or None when the store is unreachable.
    """

    def hit(
        self, key: str, now: float, step: float, burst: float, block_for: float
    ) -> tuple[float, bool] | None: ...

    async def ahit(
        self, key: str, now: float, step: float, burst: float, block_for: float
    ) -> tuple[float, bool] | None: ...


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Thresholds of the attack guard (:mod:`sessionware.defences.guard`).

    The defaults stop an ID-guessing or forged-cookie run within seconds
    while leaving room for real users: a browser whose session expired sends
    its stale cookie on a burst of parallel requests, and repeats of one value
    count once (AN-01).  ``SessionConfig(guard=None)`` turns the guard off.

    :param bad_limit: forged credentials (a bad signature on a cookie of our
        shape, an invalid bearer token, a refused refresh token) one client may
        present per ``bad_window``; each distinct value counts once.
    :param block_for: how long a client past ``bad_limit`` has its *failing*
        credentials answered 429 (valid or absent credentials always pass).
    :param create_limit: anonymous sessions one client address holds; past
        it that client's oldest anonymous sessions are evicted (never a 429;
        logins are never limited here).  Raise it for many users behind one
        address (an office NAT, a carrier's CGNAT).
    :param create_window: at most one ``flood`` event per client per window.
    :param max_clients: entries per table (counters, blocks); the oldest go
        first, so memory stays bounded under address-cycling floods (AN-06).
    :param ipv6_prefix: IPv6 clients are counted per network of this size,
        since one host usually owns a whole /64.
    :param global_limit: bad events from all clients together per
        ``bad_window`` that raise one ``brute_force`` event with
        ``scope=global`` (a distributed attack no single client trips);
        None disables it.
    :param shared: a :class:`~sessionware.defences.counters.RedisGuardState` (or
        any :class:`~sessionware.defences.counters.SharedCounter`) so every app
        server counts bad events and blocks together.

    .. versionadded:: 0.1
    """

    bad_limit: int = 20
    bad_window: Duration = 60
    block_for: Duration = 300
    create_limit: int = 60
    create_window: Duration = 60
    max_clients: int = 100_000
    ipv6_prefix: int = 64
    global_limit: int | None = 1000
    shared: SharedCounter | None = field(default=None, compare=False)

    bad_window_s: float = field(init=False, repr=False, compare=False)
    block_s: float = field(init=False, repr=False, compare=False)
    create_window_s: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "bad_window_s", as_seconds("bad_window", self.bad_window))
        set_(self, "block_s", as_seconds("block_for", self.block_for))
        set_(self, "create_window_s", as_seconds("create_window", self.create_window))
        for name in ("bad_limit", "create_limit", "max_clients"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"guard {name} must be a positive integer, got {value!r}")
        if self.global_limit is not None and (
            isinstance(self.global_limit, bool) or self.global_limit < 1
        ):
            raise ConfigError("guard global_limit must be None or a positive integer")
        if not 16 <= self.ipv6_prefix <= 128:
            raise ConfigError(f"guard ipv6_prefix must be 16..128, got {self.ipv6_prefix!r}")


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How sessions are identified, carried and expired.

    Timeouts accept seconds or :class:`datetime.timedelta`; after construction
    the ``*_s`` attributes hold them as float seconds.

    .. versionadded:: 0.1
    """

    secret_keys: Sequence[str | bytes] = ()
    cookie_name: str = "__Host-session"
    #: ``True`` always; ``"auto"``: exactly when the request arrived over HTTPS
    #: (its scheme, or a trusted proxy's), as the Starlette and Flask profiles
    #: need; ``False`` never (plain-HTTP development).
    secure: Secure = True
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
    #: Finite by default so one account cannot fill the store; the oldest go first.
    max_sessions_per_user: int | None = 100
    binding: Binding = "log"
    trusted_proxies: Sequence[str] = ()
    #: Send ``Clear-Site-Data`` on logout (CK-08); off by default because it
    #: also wipes the app's own caches and storage.
    clear_site_data: bool = False
    #: Called with every security :class:`~sessionware.events.Event`.
    on_event: Callable[[Event], None] | None = None
    #: Brute-force and flood thresholds; None turns the guard off.
    guard: GuardConfig | None = GuardConfig()
    #: Refuse cross-site unsafe requests on a live session (CS-01, 403).
    csrf: bool = True
    #: Origins besides the request's own allowed to send unsafe requests.
    allowed_origins: Sequence[str] = ()
    #: How long an ID replaced by a periodic renewal (``renew_interval``) still
    #: serves its successor, so requests already in flight are not signed out
    #: (FX-07).  Never applies after ``login()``/``regenerate()``.
    rotation_grace: Duration = 5
    #: A rotated-out ID presented after the grace window: ``"log"`` raises
    #: ``stale_reuse``; ``"revoke"`` also ends the successor session.
    on_stale_reuse: StaleReuse = "log"
    #: The longest a tombstone (why a signed-in session ended) is kept; 0 keeps none.
    tombstone_timeout: Duration = 7 * 24 * 3600
    #: Which cookies persist: ``"remember"`` (remember-me ones, until their
    #: absolute limit), ``"sliding"`` (remember-me ones, Max-Age following the
    #: sliding expiry: Flask's permanent sessions) or ``"always"`` (every
    #: session, sliding: Starlette's ``max_age``).
    cookie_lifetime: CookieLifetime = "remember"
    #: Send the CHIPS ``Partitioned`` attribute (requires Secure).
    partitioned: bool = False
    #: ``"tagged"`` stores tuples, bytes, datetimes, UUIDs and Markup as Flask's
    #: tagged JSON does (still JSON text, never pickle).
    codec: Codec = "json"

    idle_s: float = field(init=False, repr=False, compare=False)
    absolute_s: float = field(init=False, repr=False, compare=False)
    remember_s: float = field(init=False, repr=False, compare=False)
    remember_absolute_s: float = field(init=False, repr=False, compare=False)
    renew_s: float | None = field(init=False, repr=False, compare=False)
    touch_s: float = field(init=False, repr=False, compare=False)
    grace_s: float = field(init=False, repr=False, compare=False)
    tombstone_s: float = field(init=False, repr=False, compare=False)
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
        set_(self, "idle_s", as_seconds("idle_timeout", self.idle_timeout))
        set_(self, "absolute_s", as_seconds("absolute_timeout", self.absolute_timeout))
        set_(self, "remember_s", as_seconds("remember_timeout", self.remember_timeout))
        set_(
            self,
            "remember_absolute_s",
            as_seconds("remember_absolute_timeout", self.remember_absolute_timeout),
        )
        set_(self, "renew_s", as_seconds("renew_interval", self.renew_interval, optional=True))
        set_(self, "touch_s", as_seconds("touch_interval", self.touch_interval))
        set_(self, "grace_s", _or_zero("rotation_grace", self.rotation_grace))
        set_(self, "tombstone_s", _or_zero("tombstone_timeout", self.tombstone_timeout))
        if self.on_stale_reuse not in ("log", "revoke"):
            raise ConfigError(
                f"on_stale_reuse must be 'log' or 'revoke', got {self.on_stale_reuse!r}"
            )
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
        if self.guard is not None and not isinstance(self.guard, GuardConfig):
            raise ConfigError(f"guard must be a GuardConfig or None, got {self.guard!r}")
        if isinstance(self.allowed_origins, str):
            raise ConfigError("allowed_origins must be a list of origins, not one string")
        origins = [allowed_origin(origin) for origin in self.allowed_origins]
        set_(self, "allowed_origins", tuple(origins))

    def __repr__(self) -> str:
        """Every field, with the secret keys shown as fingerprints only (never in clear)."""
        parts = []
        for f in fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name == "secret_keys":
                prints = ", ".join(fingerprint(k) for k in self.secrets)
                parts.append(f"secret_keys=<{len(self.secrets)} key(s): {prints}>")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"SessionConfig({', '.join(parts)})"

    __str__ = __repr__

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
        if len(name) + 1 + SIGNED_LENGTH > MAX_COOKIE_BYTES:
            # Browsers drop a cookie whose name + value pass 4096 bytes (RFC 6265bis
            # §5.7, ASVS 5.0 3.3.5, CK-06): refuse here rather than at the first login.
            raise ConfigError(
                f"cookie_name is {len(name)} characters; with the {SIGNED_LENGTH}-character "
                f"value the cookie would pass {MAX_COOKIE_BYTES} bytes"
            )
        if self.same_site not in ("lax", "strict", "none"):
            raise ConfigError(
                f"same_site must be 'lax', 'strict' or 'none', got {self.same_site!r}"
            )
        if self.secure not in (True, False, "auto"):
            raise ConfigError(f"secure must be True, False or 'auto', got {self.secure!r}")
        if self.same_site == "none" and self.secure is not True:
            raise ConfigError("same_site='none' requires secure=True (browsers drop it otherwise)")
        if self.partitioned and self.secure is not True:
            raise ConfigError(
                "partitioned=True requires secure=True (CHIPS cookies must be Secure)"
            )
        if self.cookie_lifetime not in ("remember", "sliding", "always"):
            raise ConfigError(
                "cookie_lifetime must be 'remember', 'sliding' or 'always', "
                f"got {self.cookie_lifetime!r}"
            )
        if self.codec not in ("json", "tagged"):
            raise ConfigError(f"codec must be 'json' or 'tagged', got {self.codec!r}")
        lowered = name.lower()
        if lowered.startswith("__host-"):
            if not name.startswith("__Host-"):
                raise ConfigError(f"cookie_name {name!r}: write the prefix exactly as '__Host-'")
            if self.secure is not True:
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
            if self.secure is not True:
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
