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
Starlette's keywords select the *Starlette profile*: the cookie and its
lifetime behave as Starlette's do, while the data lives server-side behind
an opaque signed ID and every server-side defence stays on (strict mode,
revocation, fixation defence, hashed IDs, URL-ID and duplicate-cookie
handling).  Keyword by keyword:

===================  =========================================================
Starlette            sessionware (Starlette profile)
===================  =========================================================
``secret_key``       ``secret_keys=[secret_key]``, positional too
                     (``SessionMiddleware(app, SECRET)``); ``Secret`` objects
                     accepted; at least 32 bytes, refused otherwise.
``session_cookie``   ``cookie_name`` (default ``session``, as Starlette).
``max_age``          default 14 days.  A persistent cookie with that Max-Age,
                     renewed whenever the server-side expiry slides (at most
                     once per ``touch_interval``); on the server, the idle
                     limit.  There is no absolute limit unless you pass
                     ``absolute_timeout=``.  ``None``: a browser-session
                     cookie; ``0`` or negative: the cookie expires at once.
``path``             ``path``.
``same_site``        ``same_site``, in any case.
``https_only``       ``False`` (default): ``secure="auto"``, Secure exactly
                     when the request reached the app over HTTPS (its scheme,
                     or a trusted proxy's ``X-Forwarded-Proto``).  Starlette
                     itself never sets Secure then.  ``True``: always Secure.
``domain``           ``domain``.
``partitioned``      ``partitioned=True`` (CHIPS); needs ``https_only=True``.
===================  =========================================================

A native keyword naming the same setting as a Starlette one given with it
(``secret_key`` and ``secret_keys``, ``max_age`` and ``idle_timeout``,
``https_only`` and ``secure``, ``session_cookie`` and ``cookie_name``) is a
:class:`ConfigError` naming both; other native keywords
(``absolute_timeout``, ``trusted_proxies``, ``backend=``...) tune the profile.
At startup one log line lists the native defaults the profile relaxes and
the keyword that restores each.
"""

from __future__ import annotations

from ..keywords import STARLETTE_KEYWORDS, translate

__all__ = ["STARLETTE_KEYWORDS", "translate"]
