"""SessionConfig: safe defaults, and every unsafe combination refused at construction."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from typing import Any

import pytest

from sessionware import ConfigError, SessionConfig

from ..conftest import OLD_SECRET, SECRET


def make(**fields: Any) -> SessionConfig:
    fields.setdefault("secret_keys", [SECRET])
    return SessionConfig(**fields)


def test_defaults_match_the_design() -> None:
    """Every default is the one DESIGN.md names (CK-01, EX-01..03)."""
    cfg = make()
    assert cfg.cookie_name == "__Host-session"
    assert cfg.secure is True and cfg.http_only is True
    assert cfg.same_site == "lax"
    assert cfg.path == "/" and cfg.domain is None
    assert cfg.idle_s == 30 * 60
    assert cfg.absolute_s == 12 * 3600
    assert cfg.remember_s == 30 * 24 * 3600
    assert cfg.remember_absolute_s == 90 * 24 * 3600
    assert cfg.renew_s is None
    assert cfg.touch_s == 60
    assert cfg.url_id_policy == "reject"
    assert cfg.max_data_bytes == 64 * 1024
    assert cfg.max_sessions_per_user == 100  # finite from 0.2 (#13)
    assert cfg.binding == "log"
    assert cfg.trusted_proxies == ()


def test_default_cookie_name_is_not_a_framework_fingerprint() -> None:
    """The default name reveals no framework (ID-04)."""
    fingerprints = {"connect.sid", "jsessionid", "session", "sessionid", "phpsessid"}
    assert make().cookie_name.lower() not in fingerprints


def test_config_is_frozen() -> None:
    """A built config cannot be changed afterwards, so validation cannot be bypassed."""
    cfg = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.secure = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "attr", "seconds"),
    [
        pytest.param({"idle_timeout": timedelta(minutes=5)}, "idle_s", 300.0, id="timedelta"),
        pytest.param({"idle_timeout": 90.5}, "idle_s", 90.5, id="float"),
        pytest.param({"idle_timeout": 120}, "idle_s", 120.0, id="int"),
        pytest.param(
            {"absolute_timeout": timedelta(hours=1)}, "absolute_s", 3600.0, id="absolute-td"
        ),
        pytest.param({"renew_interval": timedelta(minutes=10)}, "renew_s", 600.0, id="renew-td"),
        pytest.param({"touch_interval": 0.5}, "touch_s", 0.5, id="touch-float"),
    ],
)
def test_timeouts_accept_timedelta_and_seconds(
    fields: dict[str, Any], attr: str, seconds: float
) -> None:
    """Timeouts given as timedelta, int or float seconds all end up as float seconds."""
    assert getattr(make(**fields), attr) == seconds


def test_secret_keys_accept_str_and_bytes_and_keep_order() -> None:
    """Keys may be str or bytes; the first one (newest) comes first in ``secrets``."""
    cfg = make(secret_keys=[SECRET, OLD_SECRET.encode()])
    assert cfg.secrets == (SECRET.encode(), OLD_SECRET.encode())


def test_secret_keys_from_a_generator_are_kept() -> None:
    """An iterable of keys is read once and kept whole, not consumed by validation."""
    cfg = make(secret_keys=(k for k in [SECRET, OLD_SECRET]))
    assert cfg.secret_keys == (SECRET, OLD_SECRET)
    assert len(cfg.secrets) == 2
    with pytest.raises(ConfigError, match="secret_keys is required"):
        make(secret_keys=(k for k in []))


@pytest.mark.parametrize("key", [40, None, 3.5, ["nested"]])
def test_secret_keys_must_be_str_or_bytes(key: object) -> None:
    """A non-text key (``bytes(40)`` would be forty zero bytes) is refused, not coerced."""
    with pytest.raises(ConfigError, match="must be str or bytes"):
        make(secret_keys=[key])


def test_a_single_secret_string_is_one_key() -> None:
    """A bare string is one key, not a list of one-character keys."""
    assert make(secret_keys=SECRET).secrets == (SECRET.encode(),)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"secret_keys": []}, "secret_keys is required", id="no-secret"),
        pytest.param({"secret_keys": ()}, "secret_keys is required", id="empty-tuple"),
        pytest.param({"secret_keys": None}, "secret_keys is required", id="none"),
        pytest.param({"secret_keys": ""}, "0 bytes", id="empty-string"),
        pytest.param({"secret_keys": ["x" * 31]}, "31 bytes", id="short-secret"),
        pytest.param({"secret_keys": [SECRET, "short"]}, "secret_keys[1]", id="short-old-key"),
        pytest.param(
            {"same_site": "none", "secure": False, "cookie_name": "sid"},
            "requires secure=True",
            id="samesite-none-insecure",
        ),
        pytest.param({"domain": "example.com"}, "must not set a domain", id="host-with-domain"),
        pytest.param({"path": "/app"}, "path='/'", id="host-with-path"),
        pytest.param({"secure": False}, "requires secure=True", id="host-insecure"),
        pytest.param({"cookie_name": "__HOST-x"}, "exactly as '__Host-'", id="host-upper"),
        pytest.param({"cookie_name": "__host-x"}, "exactly as '__Host-'", id="host-lower"),
        pytest.param(
            {"cookie_name": "__HoSt-x", "secure": False}, "'__Host-'", id="host-mixed-insecure"
        ),
        pytest.param(
            {"cookie_name": "__Secure-x", "secure": False},
            "requires secure=True",
            id="secure-prefix-insecure",
        ),
        pytest.param(
            {"cookie_name": "__SECURE-x", "secure": False}, "'__Secure-'", id="secure-upper"
        ),
        pytest.param({"cookie_name": "__secure-x"}, "'__Secure-'", id="secure-lower"),
        pytest.param(
            {"idle_timeout": 3600, "absolute_timeout": 1800},
            "longer than absolute_timeout",
            id="idle-over-absolute",
        ),
        pytest.param(
            {"remember_timeout": 100 * 86400},
            "longer than remember_absolute_timeout",
            id="remember-idle-over-absolute",
        ),
        pytest.param(
            {"remember_timeout": 1800, "remember_absolute_timeout": 3600},
            "shorter than absolute_timeout",
            id="remember-abs-short",
        ),
        pytest.param({"touch_interval": 30 * 60}, "touch_interval", id="touch-not-below-idle"),
        pytest.param({"idle_timeout": 0}, "positive", id="zero-idle"),
        pytest.param({"idle_timeout": -5}, "positive", id="negative-idle"),
        pytest.param({"absolute_timeout": timedelta(0)}, "positive", id="zero-absolute-td"),
        pytest.param({"absolute_timeout": timedelta(hours=-1)}, "positive", id="negative-td"),
        pytest.param({"remember_timeout": math.inf}, "finite", id="inf-remember"),
        pytest.param({"touch_interval": math.nan}, "positive", id="nan-touch"),
        pytest.param({"renew_interval": 0}, "positive", id="zero-renew"),
        pytest.param({"idle_timeout": "30m"}, "seconds or a timedelta", id="string-timeout"),
        pytest.param({"idle_timeout": True}, "seconds or a timedelta", id="bool-timeout"),
        pytest.param({"url_id_policy": "allow"}, "url_id_policy", id="bad-url-policy"),
        pytest.param({"binding": "strict"}, "binding", id="bad-binding"),
        pytest.param({"same_site": "None"}, "same_site", id="bad-samesite-case"),
        pytest.param({"cookie_name": "a b"}, "not a valid cookie name", id="space-in-name"),
        pytest.param({"cookie_name": ""}, "not a valid cookie name", id="empty-name"),
        pytest.param({"max_data_bytes": 0}, "max_data_bytes", id="zero-max-data"),
        pytest.param({"trusted_proxies": ["not-an-ip"]}, "trusted_proxies", id="bad-proxy"),
    ],
)
def test_unsafe_or_inconsistent_config_is_refused(fields: dict[str, Any], message: str) -> None:
    """Each unsafe combination raises ConfigError naming the problem (CK-02)."""
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        make(**fields)


def test_config_error_is_a_value_error() -> None:
    """ConfigError subclasses ValueError, so generic handlers still catch it."""
    with pytest.raises(ValueError):
        make(secret_keys=[])


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"cookie_name": "sid", "secure": False}, id="dev-mode-plain-http"),
        pytest.param({"cookie_name": "__Secure-sid", "domain": "example.com"}, id="secure-prefix"),
        pytest.param({"cookie_name": "sid", "path": "/app", "secure": False}, id="narrow-path"),
        pytest.param({"same_site": "none"}, id="samesite-none-with-secure"),
        pytest.param({"same_site": "strict"}, id="strict"),
        pytest.param({"url_id_policy": "ignore", "binding": "revoke"}, id="other-enums"),
        pytest.param({"trusted_proxies": ["10.0.0.0/8", "::1"]}, id="proxies"),
    ],
)
def test_safe_variants_are_accepted(fields: dict[str, Any]) -> None:
    """Legitimate non-default settings construct without error (CK-09 dev mode included)."""
    make(**fields)
