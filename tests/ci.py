"""The one reading of the ``CI`` environment variable every test area shares.

Under CI a missing service or tool is a failure, never a skip.  CI systems
spell "yes" differently (GitHub and GitLab say ``true``, others ``1``,
``True`` or ``yes``), so every spelling counts; anything else, or nothing,
means a developer's machine.
"""

from __future__ import annotations

import os

__all__ = ["TRUTHY", "in_ci"]

#: The values that mean "this is CI", compared case-insensitively.
TRUTHY = frozenset({"1", "true", "yes", "on"})


def in_ci() -> bool:
    """True when ``CI`` holds a truthy value (``1``, ``true``, ``yes``, ``on``; any case)."""
    return os.environ.get("CI", "").strip().lower() in TRUTHY
