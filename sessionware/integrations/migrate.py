"""Migration from signed-cookie sessions: the public names for apps that configure it.

``SessionMiddleware(..., migrate_from="starlette" | "flask")`` is all most apps
need (``"flask-session"`` / ``"starsessions"`` add ``legacy_store=`` one of the
stores below); :class:`LegacyCookie` describes an old cookie whose settings differ from
the framework's defaults (Flask's salt, a custom name).  The mechanism itself
lives in :mod:`sessionware.migration`, below the adapters that run it.
"""

from __future__ import annotations

from ..migration import (
    FlaskSessionRedis,
    FlaskSessionSQL,
    LegacyCookie,
    StarsessionsRedis,
    decode_flask,
    decode_starlette,
)

__all__ = [
    "FlaskSessionRedis",
    "FlaskSessionSQL",
    "LegacyCookie",
    "StarsessionsRedis",
    "decode_flask",
    "decode_starlette",
]
