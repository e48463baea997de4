"""Flask: ``flask.session`` becomes a sessionware session.

::

    from flask import Flask, session
    from sessionware.integrations.flask import Sessionware

    app = Flask(__name__)
    app.config["SECRET_KEY"] = SECRET          # 32+ random bytes: `sessionware keygen`
    Sessionware(app)                           # or Sessionware(app, backend=..., idle_timeout=...)

    @app.post("/login")
    def login():
        ...
        session.login(user.id, remember=form.remember)   # new ID, auth_time recorded
        return redirect("/")

(``current_session()`` returns the same object typed as
:class:`~sessionware.Session`, for type checkers.)

How it is wired: :class:`Sessionware` wraps ``app.wsgi_app`` in
:class:`~sessionware.WSGISessionMiddleware` (which screens, loads, commits
and sets the cookie, exactly as for any WSGI app) and installs a
``SessionInterface`` that hands Flask the middleware's session.  Flask's own
code never writes the cookie.  Outside a real request (``test_request_context``,
the test client's ``session_transaction()``), the interface runs the same
engine itself, so those keep working too.

Flask settings, read once at ``init_app`` (keywords passed to
``Sessionware`` win over them):

==============================  ============================================
``SECRET_KEY`` (+ ``_FALLBACKS``) ``secret_keys`` (newest first)
``SESSION_COOKIE_NAME``         ``cookie_name`` when changed from ``session``
``SESSION_COOKIE_DOMAIN``       ``domain``
``SESSION_COOKIE_PATH``         ``path`` (else ``APPLICATION_ROOT``)
``SESSION_COOKIE_HTTPONLY``     ``http_only``
``SESSION_COOKIE_SECURE``       ``True`` honoured; Flask's default ``False``
                                is *not* (pass ``secure=False`` for plain HTTP)
``SESSION_COOKIE_SAMESITE``     ``same_site``; Flask's default ``None`` means Lax
``PERMANENT_SESSION_LIFETIME``  remember-me lifetime, when changed from 31 days
==============================  ============================================

Why a signed-in session ended is on ``flask.session`` too:
``session.end_reason``, ``session.ended_at`` and ``session.ended_by`` (see
:mod:`sessionware.endings`; ``explain(session.end_reason, session.ended_by)``
gives a sentence to flash).

Differences from Flask's cookie session: data must be JSON (no tuples
turning back into tuples); ``session.permanent`` does not exist — call
``session.login(user_id, remember=True)`` for a persistent sign-in.
``migrate_from="flask"`` reuses ``SECRET_KEY`` and the cookie settings to
move existing users' cookies server-side (see :mod:`.migrate`).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..backends.base import Backend
from ..config import SessionConfig
from ..errors import ConfigError, MissingExtra
from ..events import emit
from ..manager import SessionManager
from ..records import APPLIED
from ..session import Session
from ..wsgi import ENVIRON_KEY, WSGISessionMiddleware
from ..wsgi import facts_from_environ as wsgi_facts
from . import default_cookie_name
from .migrate import LegacyCookie

try:
    from flask.sessions import SessionInterface
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("flask", "Flask") from exc

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Request, Response

__all__ = ["Sessionware", "SessionwareInterface", "current_session", "flask_settings"]

_DIRECT = "sessionware.flask.direct"
_FLASK_LIFETIME = timedelta(days=31)


def flask_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our config keywords for a Flask ``app.config`` (see the table above)."""
    out: dict[str, Any] = {}
    secret = config.get("SECRET_KEY")
    if secret:
        out["secret_keys"] = [secret, *(config.get("SECRET_KEY_FALLBACKS") or ())]
    name = config.get("SESSION_COOKIE_NAME")
    if name and name != "session":
        out["cookie_name"] = name
    if config.get("SESSION_COOKIE_DOMAIN"):
        out["domain"] = config["SESSION_COOKIE_DOMAIN"]
    path = config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/"
    if path != "/":
        out["path"] = path
    if config.get("SESSION_COOKIE_HTTPONLY") is False:
        out["http_only"] = False
    if config.get("SESSION_COOKIE_SECURE") is True:
        out["secure"] = True
    same_site = config.get("SESSION_COOKIE_SAMESITE")
    if same_site:
        out["same_site"] = str(same_site).lower()
    if config.get("SESSION_COOKIE_PARTITIONED"):
        raise ConfigError("SESSION_COOKIE_PARTITIONED (CHIPS) is not supported by sessionware yet")
    lifetime = config.get("PERMANENT_SESSION_LIFETIME", _FLASK_LIFETIME)
    if isinstance(lifetime, int | float):
        lifetime = timedelta(seconds=lifetime)
    if lifetime != _FLASK_LIFETIME:
        out.update(_lifetime(lifetime.total_seconds()))
    return out


def _lifetime(seconds: float) -> dict[str, float]:
    """Limits that fit a remember-me lifetime of ``seconds`` (all stay consistent)."""
    out = {"remember_absolute_timeout": seconds, "remember_timeout": min(30 * 86400.0, seconds)}
    if seconds < 12 * 3600:
        out["absolute_timeout"] = seconds
        idle = min(30 * 60.0, seconds)
        out["idle_timeout"] = idle
        if idle <= 60:
            out["touch_interval"] = idle / 2
    return out


def _legacy(config: Mapping[str, Any], secret: Any) -> LegacyCookie:
    keys = secret
    if keys is None:
        main = config.get("SECRET_KEY")
        if not main:
            raise ConfigError("migrate_from='flask' needs SECRET_KEY or legacy_secret=")
        keys = [main, *(config.get("SECRET_KEY_FALLBACKS") or ())]
    lifetime = config.get("PERMANENT_SESSION_LIFETIME", _FLASK_LIFETIME)
    seconds = lifetime.total_seconds() if isinstance(lifetime, timedelta) else float(lifetime)
    return LegacyCookie(
        kind="flask",
        secret=keys,
        cookie_name=config.get("SESSION_COOKIE_NAME") or "session",
        max_age=seconds,
        path=config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/",
        domain=config.get("SESSION_COOKIE_DOMAIN"),
    )


def current_session() -> Session:
    """``flask.session``, typed as sessionware's :class:`~sessionware.Session`.

    Flask types ``flask.session`` as its own ``SessionMixin``, so type checkers
    do not know ``login()`` / ``logout()``; this returns the same object with
    the right type (and fails clearly when :class:`Sessionware` is not installed).
    """
    from flask import session

    current = session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(current, Session):
        raise RuntimeError("flask.session is not a sessionware session: call Sessionware(app)")
    return current


class SessionwareInterface(SessionInterface):
    """Hands Flask the middleware's session; commits itself only outside requests."""

    def __init__(self, middleware: WSGISessionMiddleware) -> None:
        self.middleware = middleware

    def open_session(self, app: Flask, request: Request) -> Any:
        session = request.environ.get(ENVIRON_KEY)
        if isinstance(session, Session):
            return session
        return self._open_direct(request.environ)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        from flask import request

        direct = request.environ.get(_DIRECT, {}).get(id(session))
        if direct is None:
            return  # the middleware commits when the response starts
        self._save_direct(direct[0], direct[1], response)

    # -- outside the middleware (test_request_context, session_transaction) ----------

    def _open_direct(self, environ: dict[str, Any]) -> Session:
        mw = self.middleware
        engine = mw.engine
        facts = wsgi_facts(environ, mw.shared.clients)
        begin = engine.begin(facts)
        record, unavailable, ending = None, None, None
        if begin.key is not None:
            record, unavailable = mw.shared.load(begin.key)
            if record is None and not unavailable and mw.shared.tombstones:
                ending = mw.shared.ending(begin.key)  # so end_reason works here too (#17)
        session = engine.resume(begin, record, facts, unavailable=unavailable, ending=ending)
        self._report([*begin.events, *session.pending_events])
        session.pending_events.clear()
        environ.setdefault(_DIRECT, {})[id(session)] = (session, facts)
        return session

    def _save_direct(self, session: Session, facts: Any, response: Response) -> None:
        mw = self.middleware
        engine = mw.engine
        commit = engine.commit(session, response.status_code, facts)
        result = APPLIED
        if commit.ops:
            result = mw.backend.apply(commit.ops, engine.clock())
        headers, events = engine.finish(commit, result, facts)
        self._report(events)
        for name, value in headers:
            if name == "vary":
                response.vary.add(value)
            elif name == "cache-control":
                response.headers["Cache-Control"] = value
            else:
                response.headers.add(name, value)

    def _report(self, events: Any) -> None:
        for event in events:
            emit(event, self.middleware.config.on_event)


class Sessionware:
    """Install sessionware as Flask's session.

    ``Sessionware(app, **config)`` or ``ext = Sessionware(); ext.init_app(app)``.
    ``config=`` takes a ready :class:`~sessionware.SessionConfig` instead of
    keywords (Flask settings are then ignored); ``backend=`` defaults to a
    :class:`~sessionware.MemoryBackend` per app.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        config: SessionConfig | None = None,
        backend: Backend | None = None,
        **fields: Any,
    ) -> None:
        self._config = config
        self._backend = backend
        self._fields = fields
        self.middleware: WSGISessionMiddleware | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Wrap ``app.wsgi_app`` and install the session interface."""
        fields = dict(self._fields)
        if self._config is None:
            fields = {**flask_settings(app.config), **fields}
            if not fields.get("secret_keys") and not fields.get("secret_key"):
                raise ConfigError(
                    "Flask's SECRET_KEY is not set: app.config['SECRET_KEY'] = <32+ random "
                    "bytes> (generate one with `sessionware keygen`), or pass "
                    "secret_keys=[...] to Sessionware()"
                )
            if "cookie_name" not in fields:
                fields["cookie_name"] = default_cookie_name(
                    fields.get("secure", True), fields.get("path", "/"), fields.get("domain")
                )
        if fields.get("migrate_from") == "flask":
            fields["migrate_from"] = _legacy(app.config, fields.pop("legacy_secret", None))
        middleware = WSGISessionMiddleware(
            app.wsgi_app, config=self._config, backend=self._backend, **fields
        )
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.session_interface = SessionwareInterface(middleware)
        app.extensions["sessionware"] = self
        self.middleware = middleware

    @property
    def backend(self) -> Backend:
        """The store of the (last) app this extension was installed on."""
        if self.middleware is None:
            raise RuntimeError("Sessionware.init_app(app) has not been called")
        return self.middleware.backend

    @property
    def manager(self) -> SessionManager:
        """A :class:`~sessionware.SessionManager` on that store ("your sessions" pages)."""
        return SessionManager(self.backend)
