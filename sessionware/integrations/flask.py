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
``Sessionware`` win over them), keep their meaning (the Flask profile, see
:mod:`.flask_config`): ``SESSION_COOKIE_*`` (``SECURE=False`` means Secure
exactly when the request came over HTTPS; ``SAMESITE='None'`` and
``PARTITIONED`` require ``SECURE=True``), ``PERMANENT_SESSION_LIFETIME``
(the idle limit; permanent sessions get a persistent cookie renewed as it
slides), ``SESSION_REFRESH_EACH_REQUEST``; Flask-Session's ``SESSION_TYPE``,
``SESSION_REDIS``, ``SESSION_KEY_PREFIX``, ``SESSION_PERMANENT`` too.

``flask.session`` is a :class:`FlaskSession`: a ``SessionMixin`` with
``permanent``, ``new``, ``modified`` and ``accessed``, whose values are
Flask's tagged JSON (tuples, bytes, ``Markup``, UUIDs, datetimes come back
as Flask's own serializer gives them back), stored as JSON text, never
pickled.  ``migrate_from="flask"`` reuses ``SECRET_KEY`` and the cookie
settings to move existing users' cookies server-side (see :mod:`.migrate`).

Why a signed-in session ended is on ``flask.session`` too:
``session.end_reason``, ``session.ended_at`` and ``session.ended_by`` (see
:mod:`sessionware.endings`; ``explain(session.end_reason, session.ended_by)``
gives a sentence to flash).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

from ..backends.base import Backend
from ..config import SessionConfig
from ..errors import ConfigError, MissingExtra
from ..events import emit
from ..keywords import log_relaxed, relaxed
from ..manager import SessionManager
from ..records import APPLIED
from ..session import Session, TaggedSession
from ..wsgi import ENVIRON_KEY, WSGISessionMiddleware
from ..wsgi import facts_from_environ as wsgi_facts
from .flask_config import (
    FLASK_RESTORE,
    FlaskProfile,
    flask_backend,
    flask_session_store,
    flask_settings,
    lifetime_of,
    profile_of,
)
from .migrate import LegacyCookie

try:
    from flask.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("flask", "Flask") from exc

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Request, Response

__all__ = [
    "FlaskSession",
    "Sessionware",
    "SessionwareInterface",
    "current_session",
    "flask_settings",
]

_DIRECT = "sessionware.flask.direct"


class FlaskSession(TaggedSession, SessionMixin):
    """``flask.session`` under sessionware: Flask's ``SessionMixin`` contract, tagged values.

    ``permanent`` makes the session remember-me (a persistent cookie that
    lasts ``PERMANENT_SESSION_LIFETIME`` and is renewed as it slides), as
    ``session.permanent = True`` does in Flask; ``new`` is True when no
    stored session backed the request.

    .. versionadded:: 0.2
    """

    @property
    def permanent(self) -> bool:
        wanted = self.want_remember
        return self.remember if wanted is None else wanted

    @permanent.setter
    def permanent(self, value: bool) -> None:
        if bool(value) != self.permanent:
            self.mark_modified()
        self.want_remember = bool(value)

    @property
    def new(self) -> bool:  # type: ignore[override]
        return self.is_new


def _legacy(config: Mapping[str, Any], secret: Any) -> LegacyCookie:
    keys = secret
    if keys is None:
        main = config.get("SECRET_KEY")
        if not main:
            raise ConfigError("migrate_from='flask' needs SECRET_KEY or legacy_secret=")
        keys = [main, *(config.get("SECRET_KEY_FALLBACKS") or ())]
    seconds = lifetime_of(config)
    return LegacyCookie(
        kind="flask",
        secret=keys,
        cookie_name=config.get("SESSION_COOKIE_NAME") or "session",
        max_age=seconds,
        path=config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/",
        domain=config.get("SESSION_COOKIE_DOMAIN"),
    )


def _name(fields: dict[str, Any]) -> str:
    from ..keywords import default_cookie_name

    return default_cookie_name(fields["secure"], fields.get("path", "/"), fields.get("domain"))


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

    def __init__(
        self, middleware: WSGISessionMiddleware, profile: FlaskProfile | None = None
    ) -> None:
        self.middleware = middleware
        self.profile = profile or FlaskProfile(False, False)

    def open_session(self, app: Flask, request: Request) -> Any:
        session = request.environ.get(ENVIRON_KEY)
        if not isinstance(session, Session):
            session = self._open_direct(request.environ)
        if self.profile.permanent_default and session.is_new and session.want_remember is None:
            session.want_remember = True  # Flask-Session's SESSION_PERMANENT=True
        return session

    # -- Flask's hooks, answered from the config that writes the cookie ----------------

    def get_cookie_name(self, app: Flask) -> str:
        return self.middleware.config.cookie_name

    def get_cookie_domain(self, app: Flask) -> str | None:
        return self.middleware.config.domain

    def get_cookie_path(self, app: Flask) -> str:
        return self.middleware.config.path

    def get_cookie_httponly(self, app: Flask) -> bool:
        return self.middleware.config.http_only

    def get_cookie_secure(self, app: Flask) -> bool:
        """True when every cookie is Secure (``"auto"``: only over HTTPS, so False here)."""
        return self.middleware.config.secure is True

    def get_cookie_samesite(self, app: Flask) -> str:
        return self.middleware.config.same_site.capitalize()

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return self.middleware.config.partitioned

    def get_expiration_time(self, app: Flask, session: Any) -> Any:
        """When a permanent session's cookie expires if unused (None: browser session)."""
        from datetime import datetime

        if not getattr(session, "permanent", False):
            return None
        seconds = self.middleware.config.remember_s
        return datetime.fromtimestamp(self.middleware.engine.clock() + seconds, UTC)

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        """Whether this response may carry the cookie (sessionware decides it at commit)."""
        return bool(getattr(session, "modified", False))

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
        profile = profile_of(app.config)
        backend = self._backend
        if self._config is None:
            fields = {**flask_settings(app.config), **fields}
            if not fields.get("secret_keys") and not fields.get("secret_key"):
                raise ConfigError(
                    "Flask's SECRET_KEY is not set: app.config['SECRET_KEY'] = <32+ random "
                    "bytes> (generate one with `sessionware keygen`), or pass "
                    "secret_keys=[...] to Sessionware()"
                )
            if "secure" in self._fields and "cookie_name" not in self._fields:
                fields.pop("cookie_name")  # the native secure= picks its own name
                fields["cookie_name"] = _name(fields)
            items = relaxed(fields, FLASK_RESTORE)
            if profile.permanent_default:
                items.append("every new session permanent (restore: SESSION_PERMANENT=False)")
            log_relaxed("Flask-Session" if profile.flask_session else "Flask", items)
        if backend is None:
            backend = flask_backend(app.config)
        allow_pickle = bool(fields.pop("legacy_allow_pickle", False))
        if fields.get("migrate_from") == "flask":
            fields["migrate_from"] = _legacy(app.config, fields.pop("legacy_secret", None))
        elif fields.get("migrate_from") == "flask-session" and "legacy_store" not in fields:
            fields["migrate_from"] = LegacyCookie(
                kind="flask-session",
                store=flask_session_store(app.config, allow_pickle),
                cookie_name=app.config.get("SESSION_COOKIE_NAME") or "session",
                path=app.config.get("SESSION_COOKIE_PATH") or "/",
                domain=app.config.get("SESSION_COOKIE_DOMAIN"),
                permanent=bool(app.config.get("SESSION_PERMANENT", True)),
                user_key=fields.pop("legacy_user_key", None),
            )
        middleware = WSGISessionMiddleware(
            app.wsgi_app, config=self._config, backend=backend, **fields
        )
        middleware.engine.session_type = FlaskSession
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.session_interface = SessionwareInterface(middleware, profile)
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
