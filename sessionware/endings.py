"""Why a session ended: tombstones in, end reasons, grace and stale reuse out.

When a cookie's record is gone, the adapter asks a backend that keeps
tombstones for the one at the same storage key (one more read, only on that
path: a live session costs nothing extra) and, for a rotation, for the
successor session; :func:`judge` decides from that :class:`Ending` alone:

* a periodic renewal (``renew_interval``) presented within ``rotation_grace``
  of the rotation is served its successor, so requests already in flight when
  the cookie changed are not signed out (FX-07);
* a rotated-out ID presented later (or an ID replaced by ``login()`` /
  ``regenerate()``, which never get a grace window: serving them would reopen
  fixation) means someone kept a copy of the old cookie: a ``stale_reuse``
  event, and under ``on_stale_reuse="revoke"`` the successor ends too;
* anything else is a plain end: the session reports ``end_reason`` and the
  event is ``ended`` with ``detail["reason"]``.

For one release the old kinds follow their ``ended`` event as aliases:
``expired`` after an idle or absolute end, ``logout_replay`` after a logout,
each with ``detail["alias_of"] = "ended"`` (logged at DEBUG, never counted by
the guard).  Subscribe to ``ended``; the aliases go in 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import SessionConfig
from .events import Event
from .records import Record, Tombstone, ended

__all__ = [
    "ALIASES",
    "Ended",
    "Ending",
    "Verdict",
    "bury",
    "explain",
    "judge",
    "keep_for",
    "reason_events",
]

#: The 0.1 event kinds still sent after an ``ended`` event, by end reason.
ALIASES = {"idle": "expired", "absolute": "expired", "logout": "logout_replay"}


@dataclass(frozen=True, slots=True)
class Ending:
    """What the adapter read for a dead cookie: its tombstone and, for a
    rotation, the live successor session (None when it has ended too)."""

    tombstone: Tombstone
    successor: Record | None = None


@dataclass(frozen=True, slots=True)
class Ended:
    """Why the presented session ended (``Session.ending``, set by the engine).

    ``revoke`` is a successor session the commit must end (stale reuse under
    ``"revoke"``); ``bury`` a tombstone the commit writes with its delete
    (an expiry or binding revoke the engine found before the store did).
    """

    reason: str
    at: float | None = None
    by: str | None = None
    revoke: Record | None = None
    bury: Tombstone | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :func:`judge`: serve ``serve`` (a grace-window successor),
    or treat the session as ``ended``; ``events`` are raised either way."""

    serve: Record | None = None
    ended: Ended | None = None
    events: tuple[Event, ...] = ()


def judge(config: SessionConfig, ending: Ending, now: float, client: str | None) -> Verdict:
    """Decide what a request presenting a dead cookie gets (see the module doc)."""
    tomb, successor = ending.tombstone, ending.successor
    reason, at = tomb.resolved(now)
    if reason != "rotated":
        info = Ended(reason, at, tomb.by)
        return Verdict(ended=info, events=reason_events(info, tomb.handle, tomb.user_id, client))
    age = now - (tomb.ended_at if tomb.ended_at is not None else now)
    if tomb.renewal and successor is not None and age < config.grace_s:
        return Verdict(serve=successor)
    info = Ended("rotated", at)
    events = list(reason_events(info, tomb.handle, tomb.user_id, client))
    if age >= config.grace_s:
        detail: dict[str, object] = {"rotated_at": at, "renewal": tomb.renewal}
        if successor is not None:
            detail["successor"] = successor.handle
            detail["successor_user"] = successor.user_id
        events.append(Event("stale_reuse", client, tomb.handle, tomb.user_id, detail, now))
        if config.on_stale_reuse == "revoke" and successor is not None:
            info = Ended("rotated", at, revoke=successor)
    return Verdict(ended=info, events=tuple(events))


def reason_events(
    info: Ended, handle: str | None, user_id: str | None, client: str | None
) -> tuple[Event, ...]:
    """The ``ended`` event of a presentation, and its 0.1 alias if it has one."""
    detail: dict[str, object] = {"reason": info.reason}
    if info.at is not None:
        detail["ended_at"] = info.at
    if info.by is not None:
        detail["by"] = info.by
    event = Event("ended", client, handle, user_id, detail)
    alias = ALIASES.get(info.reason)
    if alias is None:
        return (event,)
    return event, Event(alias, client, handle, user_id, {**detail, "alias_of": "ended"})


def bury(
    config: SessionConfig,
    record: Record,
    reason: str,
    now: float,
    *,
    by: str | None = None,
    successor: str | None = None,
    renewal: bool = False,
) -> Tombstone | None:
    """The tombstone for ``record`` ending now, or None (anonymous, or tombstones off).

    Anonymous sessions get none, so a flood of fresh sessions creates none.
    """
    if record.user_id is None or not config.tombstone_s:
        return None
    return ended(
        record, reason, now, config.tombstone_s, by=by, successor=successor, renewal=renewal
    )


def keep_for(config: SessionConfig, user_id: str | None) -> float | None:
    """``Create.keep_for`` for a new record: signed-in ones only."""
    return config.tombstone_s or None if user_id is not None else None


def explain(reason: str | None, by: str | None = None, idle: float | None = None) -> str | None:
    """A sentence for the user about ``session.end_reason`` (None for a live session).

    ``idle`` (seconds, e.g. ``config.idle_s``) puts the inactivity limit in
    the idle sentence.  Apps with their own wording map the reasons themselves.
    """
    if reason is None:
        return None
    if reason == "revoked":
        if by == "user":
            return "You were signed out from another device."
        if by == "admin":
            return "An administrator signed you out."
        return "You were signed out for your security. Please sign in again."
    if reason == "idle":
        if idle is None:
            return "Your session expired after a period of inactivity."
        return f"Your session expired after {_duration(idle)} of inactivity."
    return _MESSAGES.get(reason, "Your session ended. Please sign in again.")


_MESSAGES = {
    "logout": "You signed out.",
    "evicted": "You were signed out because you signed in on too many devices.",
    "binding": "You were signed out because your session was used from another browser.",
    "absolute": "Your session reached its maximum length. Please sign in again.",
    "rotated": "Your session moved to a new sign-in. Please sign in again.",
}


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"
