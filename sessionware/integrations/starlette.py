"""Starlette drop-in: ``SessionMiddleware`` accepts Starlette's keywords.

An app written for ``starlette.middleware.sessions.SessionMiddleware`` keeps
working when only the import changes::

    from sessionware import SessionMiddleware          # was: starlette.middleware.sessions
    app.add_middleware(SessionMiddleware, secret_key=SECRET, max_age=3600)

``request.session`` stays a JSON dict with Starlette's ``accessed`` /
``modified`` contract; ``clear()`` ends the session; websockets read it.
Starlette types it ``dict[str, Any]``; :func:`sessionware.session_of`
returns the same object typed as :class:`~sessionware.Session`, so
``session_of(request).login(...)`` passes ``mypy --strict``.
What changes is where the data lives (server-side, behind an opaque signed
ID) and the defaults, which are the safe ones.  The mapping, keyword by
keyword:

===================  =========================================================
Starlette            sessionware
===================  =========================================================
``secret_key``       ``secret_keys=[secret_key]`` (``Secret`` objects accepted);
                     still at least 32 bytes, refused otherwise (no silent
                     weak default).
``session_cookie``   ``cookie_name``.  When absent, the strongest prefix the
                     other attributes allow: ``__Host-session`` (Secure,
                     ``Path=/``, no Domain), else ``__Secure-session``, else
                     ``session`` (see :func:`~sessionware.integrations.default_cookie_name`).
``max_age``          the session's *absolute* lifetime (``absolute_timeout``),
                     enforced on the server.  Starlette re-signs the cookie on
                     every write, so its ``max_age`` bounds how long a session
                     may live; we keep that bound and add the idle timeout
                     (30 min, shortened to ``max_age`` if that is shorter).
                     The cookie itself stays non-persistent (CK-04): use
                     ``session.login(user, remember=True)`` for "stay signed
                     in".  ``max_age=None`` keeps our defaults (12 h).
``path``             ``path`` (same name).
``same_site``        ``same_site`` (same name).
``https_only``       ``secure``.  **Not given means Secure** (Starlette's
                     default is ``False``): every current browser accepts a
                     Secure cookie from ``http://localhost``, so local
                     development keeps working, and production never sends
                     the session over plain HTTP (ASVS v4.0.3-3.4.1).  Pass
                     ``https_only=False`` for plain HTTP on other hosts; the
                     cookie is then named ``session``.  Test clients must use
                     an ``https://`` base URL (Python cookie jars withhold
                     Secure cookies over ``http``; CK-09).
``domain``           ``domain`` (same name).
``partitioned``      ``False`` accepted; ``True`` refused (not supported yet).
===================  =========================================================

Starlette's keywords and ours may be mixed, but one setting given under both
names (``secret_key`` and ``secret_keys``) is a :class:`ConfigError`.
"""

from __future__ import annotations

from ..keywords import STARLETTE_KEYWORDS, translate

__all__ = ["STARLETTE_KEYWORDS", "translate"]
