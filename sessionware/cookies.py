"""Reading the session cookie and writing ``Set-Cookie``.

Reading: we need one cookie name, matched exactly (a ``__HOST-session``
variant is a different cookie; RFC 6265bis §5.4, FX-06) and *every*
occurrence of it, because two cookies with our name in one request mean
someone tossed a cookie at the user (FX-05).  werkzeug's ``parse_cookie``
decodes the whole header into a MultiDict (about 8 us for a typical header
here); this scan looks at names only and costs under 1 us, which matters
because it runs on every request.

Writing uses werkzeug's ``dump_cookie``, and only when the cookie value
changes (a new, rotated or ended session), so it stays off the read path.
SameSite is always explicit (CK-03); deletions repeat Path, Domain, Secure
and SameSite so the browser matches and drops the same cookie (CK-05).

``secure="auto"`` (the Starlette and Flask profiles) decides per request:
the writer builds the Secure form as always and :meth:`CookieWriter.plain`
drops ``Secure`` (and ``Partitioned``, which requires it) for a request that
arrived over plain HTTP, so the native ``secure=True`` path costs nothing more.
"""

from __future__ import annotations

from typing import Any

from .config import MAX_COOKIE_AGE, SessionConfig

__all__ = ["MAX_HEADER", "CookieWriter", "read_session_cookies"]

#: A Cookie header longer than this is not parsed (RS-03); browsers send at most
#: a few KiB per site, so this is only ever an attack or a broken client.
MAX_HEADER = 16 * 1024
#: RFC 6265bis §5.7 / ASVS 5.0 3.3.5: name + value above this is dropped by browsers.
MAX_COOKIE = 4096


def read_session_cookies(header: str, name: str) -> list[str]:
    """Every value sent under exactly ``name`` (usually zero or one)."""
    if name not in header:
        return []
    values = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            values.append(value.strip())
    return values


def dump_cookie(*args: Any, **kwargs: Any) -> str:
    """werkzeug's ``dump_cookie``, imported on first use.

    Importing werkzeug pulls in most of the package (about 100 ms of import
    time here); only responses that change the cookie need it.
    """
    from werkzeug.http import dump_cookie as dump

    return dump(*args, **kwargs)


class CookieWriter:
    """Builds the session's ``Set-Cookie`` values from a config."""

    __slots__ = ("_config", "_deletion", "auto")

    def __init__(self, config: SessionConfig) -> None:
        self._config = config
        self._deletion: str | None = None
        #: True when Secure depends on the request's scheme (``secure="auto"``).
        self.auto = config.secure == "auto"

    def set(self, value: str, *, max_age: float | None) -> str:
        """A cookie carrying ``value``; persistent only when ``max_age`` is given (CK-04)."""
        cfg = self._config
        if max_age is not None:
            max_age = int(min(max_age, MAX_COOKIE_AGE))
        header = dump_cookie(
            cfg.cookie_name,
            value,
            max_age=max_age,
            path=cfg.path,
            domain=cfg.domain,
            secure=bool(cfg.secure),
            httponly=cfg.http_only,
            samesite=cfg.same_site.capitalize(),
            partitioned=cfg.partitioned,
        )
        if len(cfg.cookie_name) + len(value) + 1 > MAX_COOKIE:
            raise ValueError("session cookie would exceed 4096 bytes")  # pragma: no cover
        return header

    def delete(self) -> str:
        """An expired cookie with the same attributes, so the browser drops ours (CK-05)."""
        if self._deletion is not None:
            return self._deletion  # the same for every response: built once
        cfg = self._config
        self._deletion = dump_cookie(
            cfg.cookie_name,
            "",  # pragma: no mutate (dump_cookie's value defaults to "")
            max_age=0,
            expires=0,
            path=cfg.path,
            domain=cfg.domain,
            secure=bool(cfg.secure),
            httponly=cfg.http_only,
            samesite=cfg.same_site.capitalize(),
            partitioned=cfg.partitioned,
        )
        return self._deletion

    @staticmethod
    def plain(header: str | None) -> str | None:
        """``header`` without ``Secure`` / ``Partitioned``: the form for a plain-HTTP request.

        Only for ``secure="auto"``: a browser (and Python's cookie jars) drop a
        Secure cookie set over ``http``, so there the profiles send what the
        framework they stand in for would have sent.
        """
        if header is None:
            return None
        return header.replace("; Secure", "").replace("; Partitioned", "")
