"""Legacy session migration (``migrate_from=``), run by the edges.

* :mod:`.cookies`: the signed-cookie formats of Starlette and Flask;
* :mod:`.stores`: the server-side stores of Flask-Session and starsessions;
* :mod:`.migrator`: screening a request, adopting once, joining parallel requests.
"""

from __future__ import annotations

from .cookies import (
    DEFAULT_MAX_AGE,
    KINDS,
    LegacyCookie,
    decode_flask,
    decode_flask_tagged,
    decode_starlette,
)
from .migrator import JOIN_WINDOW, Found, Migrator, migrator_from_fields
from .stores import FlaskSessionRedis, FlaskSessionSQL, StarsessionsRedis, decode_flask_session

__all__ = [
    "DEFAULT_MAX_AGE",
    "JOIN_WINDOW",
    "KINDS",
    "FlaskSessionRedis",
    "FlaskSessionSQL",
    "Found",
    "LegacyCookie",
    "Migrator",
    "StarsessionsRedis",
    "decode_flask",
    "decode_flask_session",
    "decode_flask_tagged",
    "decode_starlette",
    "migrator_from_fields",
]
