"""The tagged JSON codec: Flask's session value types, still stored as JSON text.

Flask's cookie session serializes values with ``flask.json.tag``: a tuple
becomes ``{" t": [...]}``, bytes ``{" b": base64}``, ``Markup``
``{" m": html}``, a UUID ``{" u": hex}``, a datetime ``{" d": HTTP date}``
(so whole seconds, in UTC), and a one-key dict whose key looks like a tag
``{" di": {key + "__": value}}``.  Apps rely on that: ``flash()`` keeps
``Markup`` unescaped, tuples come back as tuples.  This module reads and
writes the same tags, value by value, so a session under
``codec="tagged"`` (Flask's default here, an option for ASGI) round-trips
exactly what Flask's own serializer round-trips.  It never pickles: what
is stored is JSON text any tool can read.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from .records import decode, encode

__all__ = ["tag", "tagged_decode", "tagged_encode", "untag"]

_TAGS = frozenset({" di", " t", " b", " m", " u", " d"})


def tag(value: Any) -> Any:
    """``value`` as plain JSON values with Flask's tags (in Flask's order of checks)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, item),) = value.items()
            if key in _TAGS:
                return {" di": {f"{key}__": tag(item)}}
        return {k: tag(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {" t": [tag(item) for item in value]}
    if isinstance(value, list):
        return [tag(item) for item in value]
    if isinstance(value, bytes):
        return {" b": base64.b64encode(value).decode("ascii")}
    html = getattr(value, "__html__", None)
    if callable(html):
        return {" m": str(html())}
    if isinstance(value, uuid.UUID):
        return {" u": value.hex}
    if isinstance(value, datetime):
        from werkzeug.http import http_date

        return {" d": http_date(value)}
    return value


def untag(value: Any) -> Any:
    """The Python value of tagged JSON (inner values first, as Flask scans)."""
    if isinstance(value, list):
        return [untag(item) for item in value]
    if not isinstance(value, dict):
        return value
    value = {k: untag(v) for k, v in value.items()}
    if len(value) != 1:
        return value
    ((key, inner),) = value.items()
    if key == " di":
        ((name, item),) = inner.items()
        return {name[:-2]: item}
    if key == " t":
        return tuple(inner)
    if key == " b":
        return base64.b64decode(inner)
    if key == " m":
        from markupsafe import Markup

        return Markup(inner)  # noqa: S704 - the app stored it as Markup, as in Flask
    if key == " u":
        return uuid.UUID(inner)
    if key == " d":
        from werkzeug.http import parse_date

        return parse_date(inner)
    return value


def tagged_encode(value: Any) -> str:
    """One session value as tagged JSON text."""
    return encode(tag(value))


def tagged_decode(text: str) -> Any:
    """One stored tagged JSON text as its Python value."""
    return untag(decode(text))
