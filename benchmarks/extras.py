"""Token verification and guard costs, measured when those modules exist.

Each function returns ``(data, None)`` or ``(None, reason)`` so the runner can
skip with a note while ``sessionware.tokens`` / ``sessionware.guard`` are not
on this checkout yet.
"""

from __future__ import annotations

import importlib.util
from typing import Any


def _missing(module: str) -> str | None:
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else f"module {module} is not available"


def tokens(quick: bool) -> tuple[dict[str, Any] | None, str | None]:
    """µs to verify one access token (target: <= 15 us)."""
    reason = _missing("sessionware.tokens")
    if reason:
        return None, reason
    return None, "sessionware.tokens found but its benchmark is not wired yet"


def guard(quick: bool) -> tuple[dict[str, Any] | None, str | None]:
    """Guard overhead on good traffic and cost under a flood of forged cookies."""
    reason = _missing("sessionware.guard")
    if reason:
        return None, reason
    return None, "sessionware.guard found but its benchmark is not wired yet"
