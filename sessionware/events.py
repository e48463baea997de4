"""Security and lifecycle events.

Every decision worth an operator's attention becomes an :class:`Event` and
goes to two places: the stdlib logger ``"sessionware.security"`` (with the
fields in ``extra=`` for structured handlers) and the optional ``on_event``
callback.  Events never carry a raw session ID or token (AN-04): only the
public handle.  Fields that come from the client (user agent, cookie
fragments) are escaped before they reach a log line, so CR/LF and terminal
escapes cannot forge records (AN-05, ASVS 5.0 16.4.1).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = ["KINDS", "Event", "EventSink", "emit", "escape", "logger"]

logger = logging.getLogger("sessionware.security")

#: Every kind an event can have.  Attack signals first, then lifecycle.
KINDS = frozenset(
    {
        # attacks and anomalies
        "bad_signature",
        "unknown_id",
        "expired",
        "url_id",
        "cookie_tossing",
        "brute_force",
        "flood",
        "binding_mismatch",
        "token_invalid",
        "token_reuse",
        "csrf",
        "backend_down",
        "logout_replay",
        "oversized",
        "foreign_cookie",
        "untrusted_forwarding",
        "store_full",
        # lifecycle
        "created",
        "login",
        "regenerated",
        "renewed",
        "logout",
        "revoked",
        "evicted",
        "refreshed",
        # a dead cookie came back: why it died (detail["reason"]); a rotated-out
        # ID came back after the grace window (a copied cookie)
        "ended",
        "stale_reuse",
    }
)

#: Attack signals (for metrics and alerting).  What counts toward a guard block
#: is narrower: :data:`sessionware.defences.guard.COUNTED`.
BAD_KINDS = frozenset(
    {
        "bad_signature",
        "unknown_id",
        "url_id",
        "cookie_tossing",
        "token_invalid",
        "token_reuse",
    }
)
# Not counted (0.2): ``ended`` and its 0.1 aliases ``expired`` and
# ``logout_replay``.  A returning user's dead cookie is not a guess.

_LEVELS = {
    "created": logging.DEBUG,
    "login": logging.INFO,
    "regenerated": logging.INFO,
    "renewed": logging.DEBUG,
    "logout": logging.INFO,
    "revoked": logging.INFO,
    "evicted": logging.INFO,
    "refreshed": logging.DEBUG,
    "expired": logging.INFO,
    "ended": logging.INFO,
    "backend_down": logging.ERROR,
}


def escape(value: str, limit: int = 200) -> str:
    """Make a client-supplied string safe for one log line.

    Control characters (CR, LF, ESC...) and non-printables become ``\\xNN``
    escapes, backslashes are doubled, and long values are cut at ``limit``.
    """
    value = value[:limit]
    if value.isprintable() and "\\" not in value:
        return value
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Event:
    """One security-relevant happening.

    :param kind: one of :data:`KINDS`.
    :param client: the client address (after trusted-proxy resolution).
    :param handle: the session's public handle, when there is one.
    :param detail: small extra facts (already safe to log).

    .. versionadded:: 0.1
    """

    kind: str
    client: str | None = None
    handle: str | None = None
    user_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        """The event as plain JSON-able fields."""
        return {
            "kind": self.kind,
            "client": self.client,
            "handle": self.handle,
            "user_id": self.user_id,
            "detail": self.detail,
            "time": self.time,
        }


EventSink: TypeAlias = Callable[[Event], None]

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


def down_detail(error: BaseException, store: object) -> dict[str, str]:
    """The ``detail`` of a ``backend_down`` event: which store, and why.

    ``store`` is the backend; its ``address`` (URL or host:port, password
    removed by the backend) is used when it has one, else its class name.
    ``cause`` is the error's message on one line with any ``user:pass@``
    cut out, so "connection refused" reaches the log and credentials never do.
    """
    address = getattr(store, "address", None)
    where = address if isinstance(address, str) else type(store).__name__
    cause = " ".join(str(error).split())
    system = _system_reason(error)
    if system and system.lower() not in cause.lower():
        cause = f"{cause} ({system})"
    cause = _CREDENTIALS.sub("***@", cause)[:300]
    return {"error": type(error).__name__, "store": where, "cause": cause or "-"}


def _system_reason(error: BaseException) -> str | None:
    """The OS's words ("Connection refused") for the first socket error in the chain.

    Some drivers say only "Error 111 ... Connect call failed"; the errno's
    text is what tells an operator to start the server or fix the address.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno:
            return os.strerror(current.errno)
        current = current.__cause__ or current.__context__
    return None



def emit(event: Event, callback: EventSink | None = None) -> None:
    """Log ``event`` to ``sessionware.security`` and hand it to ``callback``.

    A failing callback is logged and swallowed: observers must never break
    the request they observe.
    """
    level = _LEVELS.get(event.kind, logging.WARNING)
    if "alias_of" in event.detail:
        level = logging.DEBUG  # a 0.1 kind repeating the event before it
    if logger.isEnabledFor(level):
        detail = " ".join(f"{k}={escape(str(v))}" for k, v in event.detail.items())
        logger.log(
            level,
            "%s client=%s handle=%s user=%s %s",
            event.kind,
            escape(event.client or "-"),
            event.handle or "-",
            escape(event.user_id or "-"),
            detail,
            extra={"sessionware_event": event.as_dict()},
        )
    if callback is not None:
        try:
            callback(event)
        except Exception:
            logger.exception("on_event callback failed for %s", event.kind)
