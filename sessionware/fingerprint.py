"""A coarse client fingerprint for session binding (AN-03).

A stolen cookie replayed from the attacker's machine usually arrives from
another network and another browser.  Binding the session to the exact IP
would break every phone that hops between cell towers, so the fingerprint
is deliberately coarse (OWASP Session Management Cheat Sheet, "Binding the
Session ID to Other User Properties"): the /24 of an IPv4 address or the /64
of an IPv6 one, plus the browser and OS family (no versions, so updates do
not trip it).  It is computed at login, stored in ``Record.info["fp"]``, and
compared on every later request by the engine.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING

from .agents import describe_agent
from .events import Event

if TYPE_CHECKING:
    from .records import Record

__all__ = ["binding_event", "fingerprint", "network_prefix"]


@lru_cache(maxsize=4096)
def network_prefix(client: str | None) -> str:
    """``"203.0.113.0/24"`` or ``"2001:db8:1:2::/64"``; ``"-"`` when unknown."""
    if not client:
        return "-"
    try:
        address = ipaddress.ip_address(client.partition("%")[0])
    except ValueError:
        return "-"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is None:
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        address = address.ipv4_mapped
    return str(ipaddress.IPv4Network((address, 24), strict=False))


@lru_cache(maxsize=4096)
def fingerprint(client: str | None, user_agent: str) -> str:
    """The binding fingerprint: network prefix and browser family, ``|``-joined.

    Cached because the same client sends the same pair on every request; the
    cache is bounded, so varying inputs only cost the recomputation.
    """
    return f"{network_prefix(client)}|{describe_agent(user_agent)}"


def binding_event(record: Record, client: str | None, user_agent: str, policy: str) -> Event | None:
    """A ``binding_mismatch`` event when this request does not match ``record``'s fingerprint.

    The detail names both fingerprints (coarse, so safe to log) and the raw
    user agent, which the logger escapes (AN-05).
    """
    seen = fingerprint(client, user_agent)
    bound = record.info.get("fp")
    if bound is None or seen == bound:
        return None
    return Event(
        "binding_mismatch",
        client,
        record.handle,
        record.user_id,
        detail={
            "bound": bound,
            "seen": seen,
            "action": "revoked" if policy == "revoke" else "logged",
            "agent": user_agent[:200],
        },
    )
