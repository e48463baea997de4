"""TokenSettings: the token service's knobs, validated once, frozen.

Like :class:`~sessionware.config.SessionConfig`, every unsafe value is a
:class:`~sessionware.errors.ConfigError` at construction that names the field.
The bounds are the requirements' (section F of the standards):

- ``access_ttl`` 1 s to 1 h: access tokens are verified without storage, so
  a revoked session's tokens live on for up to ``access_ttl`` (TK-06).
- ``refresh_idle_ttl`` <= ``refresh_absolute_ttl``, both finite: a refresh
  chain slides but always ends (EX-03, ASVS 5.0 10.4.8).
- ``reuse_grace`` 0 to 60 s (TK-09, Cognito's range); ``leeway`` 0 to 60 s.
- ``max_token_bytes`` 512 to 64 KiB (TK-11).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..config import Duration, as_seconds
from ..errors import ConfigError

__all__ = ["TokenSettings"]

MAX_ACCESS_TTL = 3600
MAX_REUSE_GRACE = 60
MAX_LEEWAY = 60


def _positive(name: str, value: Duration) -> float:
    seconds = as_seconds(name, value)
    if seconds is None:  # pragma: no cover - as_seconds raises for None unless optional
        raise ConfigError(f"{name} is required")
    return seconds


def _bounded(name: str, value: Duration, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise ConfigError(f"{name} must be seconds or a timedelta, got {value!r}")
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not 0 <= seconds <= high:
        raise ConfigError(f"{name} must be between 0 and {high:g} seconds, got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """Validated token settings, durations in seconds."""

    issuer: str
    audience: str
    access_ttl: int
    refresh_idle_ttl: float
    refresh_absolute_ttl: float
    reuse_grace: float
    check_revocation: bool
    revocation_cache_ttl: float
    leeway: float
    max_token_bytes: int

    @classmethod
    def build(
        cls,
        *,
        issuer: str,
        audience: str,
        access_ttl: Duration,
        refresh_idle_ttl: Duration,
        refresh_absolute_ttl: Duration,
        reuse_grace: Duration,
        check_revocation: bool,
        revocation_cache_ttl: Duration,
        leeway: Duration,
        max_token_bytes: int,
    ) -> TokenSettings:
        """Check every value; :class:`ConfigError` names the first bad one."""
        for name, value in (("issuer", issuer), ("audience", audience)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty string")
        access = _positive("access_ttl", access_ttl)
        idle = _positive("refresh_idle_ttl", refresh_idle_ttl)
        absolute = _positive("refresh_absolute_ttl", refresh_absolute_ttl)
        if not 1 <= access <= MAX_ACCESS_TTL:
            raise ConfigError(
                f"access_ttl must be 1-{MAX_ACCESS_TTL} s: access tokens outlive a revocation "
                "by up to access_ttl (TK-06)"
            )
        if idle > absolute:
            raise ConfigError("refresh_idle_ttl is longer than refresh_absolute_ttl")
        if access > idle:
            raise ConfigError("access_ttl is longer than refresh_idle_ttl")
        if (
            isinstance(max_token_bytes, bool)
            or not isinstance(max_token_bytes, int)
            or not (512 <= max_token_bytes <= 65536)
        ):
            raise ConfigError("max_token_bytes must be an int between 512 and 65536")
        return cls(
            issuer=issuer,
            audience=audience,
            access_ttl=int(access),
            refresh_idle_ttl=idle,
            refresh_absolute_ttl=absolute,
            reuse_grace=_bounded("reuse_grace", reuse_grace, MAX_REUSE_GRACE),
            check_revocation=bool(check_revocation),
            revocation_cache_ttl=_bounded("revocation_cache_ttl", revocation_cache_ttl, 60),
            leeway=_bounded("leeway", leeway, MAX_LEEWAY),
            max_token_bytes=max_token_bytes,
        )
