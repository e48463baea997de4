"""Switch a defence off for a whole test run, to prove its cited tests notice.

``SESSIONWARE_TEST_DEFENCE_OFF=csrf,guard python -m pytest ...`` makes every
:class:`~sessionware.config.SessionConfig` built during the run carry the
"off" value of each named defence, whatever the test asked for.  The root
conftest applies it at import time, before any test module builds a
middleware.  ``tests/test_security_matrix.py`` uses it to run the tests that
docs/SECURITY.md cites for a defence with that defence off and to expect
them to fail: a citation that still passes does not test its claim.
"""

from __future__ import annotations

import os
from typing import Any

from sessionware.config import SessionConfig

__all__ = ["ENV", "SWITCHES", "apply", "apply_from_env"]

ENV = "SESSIONWARE_TEST_DEFENCE_OFF"

#: Each switchable defence and the config fields that turn it off.
SWITCHES: dict[str, dict[str, Any]] = {
    "csrf": {"csrf": False},
    "url_ids": {"url_id_policy": "ignore"},
    "guard": {"guard": None},
    "binding": {"binding": "off"},
}


def apply(names: list[str]) -> None:
    """Force the "off" values of ``names`` onto every SessionConfig built from now on."""
    forced: dict[str, Any] = {}
    for name in names:
        if name not in SWITCHES:
            raise ValueError(f"{ENV}: unknown defence {name!r}; known: {sorted(SWITCHES)}")
        forced.update(SWITCHES[name])
    if not forced:
        return
    original = SessionConfig.__post_init__

    def post_init(self: SessionConfig) -> None:
        original(self)
        for field, value in forced.items():
            object.__setattr__(self, field, value)

    SessionConfig.__post_init__ = post_init  # type: ignore[method-assign]


def apply_from_env() -> None:
    """Apply the defences named in ``SESSIONWARE_TEST_DEFENCE_OFF`` (comma-separated)."""
    names = [n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip()]
    apply(names)
