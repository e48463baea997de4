"""Websockets outlive the request that opened them: close them when their session ends.

A websocket gets its session once, at the handshake.  If that session is
revoked (``SessionManager.revoke``, sign-out everywhere, stale reuse) or
logged out elsewhere while the socket stays open, the connection would keep
the old authority.  :func:`watch` wraps the app's ``receive`` so that each
incoming message first checks that the session's record still exists (one
backend read per message, on the async face); when it is gone the socket is
closed with 1008 (policy violation) and the app sees a disconnect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from .errors import BackendError

__all__ = ["POLICY_VIOLATION", "watch"]

#: RFC 6455 section 7.4.1: the endpoint refuses a message that violates its policy.
POLICY_VIOLATION = 1008

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Loader(Protocol):
    """The one backend call this needs (any backend's async face has it)."""

    async def aload(self, key: str, now: float, /) -> object: ...


def watch(
    receive: Receive, send: Send, backend: Loader, key: str, clock: Callable[[], float]
) -> Receive:
    """``receive`` that closes the socket once the record at ``key`` is gone."""
    closed = False

    async def receive_checked() -> Message:
        nonlocal closed
        message = await receive()
        if closed or message.get("type") != "websocket.receive":
            return message
        try:
            alive = await backend.aload(key, clock()) is not None
        except BackendError:
            alive = True  # a store outage is not a revocation: keep the socket
        if alive:
            return message
        closed = True
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return {"type": "websocket.disconnect", "code": POLICY_VIOLATION}

    return receive_checked
