"""The demo app served by ``sessionware demo``: what the library does, in a browser.

Sign in as a demo user (passwords are on the page), count in the session,
open a second browser to see two devices on "Your sessions", sign one out
from the other, try the step-up "sensitive action", and watch the security
events panel fill up (try ``/?sessionid=5fZcXq1h9sP2mRtLw8yKdA`` or editing the cookie).

Needs the ``cli`` extra (Jinja2, python-multipart); ``create_app`` returns a
plain ASGI app, so any ASGI server can run it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...asgi import SessionMiddleware
from ...backends.base import Backend
from ...backends.memory import MemoryBackend
from ...errors import MissingExtra
from ...manager import SessionManager

if TYPE_CHECKING:
    from .pages import DemoApp

__all__ = ["create_app"]


def create_app(
    backend: Backend | None = None,
    *,
    secret_keys: Sequence[str | bytes] | None = None,
    dev_http: bool = False,
    reauth_seconds: float = 300,
    clock: Callable[[], float] | None = None,
    **session_options: Any,
) -> DemoApp:
    """The demo as an ASGI app.

    :param backend: the session store (default: a fresh :class:`MemoryBackend`).
    :param secret_keys: signing keys; a random one per process when omitted
        (sessions then end when the process does, which is fine for a demo).
    :param dev_http: plain-HTTP mode for browsers or hosts that refuse a
        Secure cookie over ``http`` (Safari, LAN addresses): the cookie is
        then ``session`` without Secure.  Chromium and Firefox accept the
        default ``__Host-`` Secure cookie on ``http://localhost``.
    :param reauth_seconds: how recent a sign-in must be for the step-up actions.

    The result (:class:`~sessionware.cli.demo.pages.DemoApp`) is the
    :class:`SessionMiddleware` behind friendly error pages, which turns the
    middleware's plain-text 400 (a session ID in the URL) and 503 (store
    down) into pages with a link back.
    """
    try:
        from .app import Demo, OriginCheck
        from .pages import DemoApp
    except ImportError as exc:  # jinja2 / python-multipart
        raise MissingExtra("cli", getattr(exc, "name", None) or "jinja2") from exc
    store = backend if backend is not None else MemoryBackend()
    tick = clock or time.time
    demo = Demo(
        SessionManager(store, clock=tick),
        store=type(store).__name__.removesuffix("Backend").lower() or "custom",
        reauth_seconds=reauth_seconds,
        clock=tick,
    )
    options: dict[str, Any] = {
        "secret_keys": list(secret_keys) if secret_keys else [secrets.token_urlsafe(48)],
        "on_event": demo.on_event,
        **session_options,
    }
    if dev_http:
        options.setdefault("secure", False)
        options.setdefault("cookie_name", "session")
    if clock is not None:
        options["clock"] = clock
    app = SessionMiddleware(OriginCheck(demo.starlette()), backend=store, **options)
    demo.idle_for = app.config.idle_for
    demo.idle_seconds = app.config.idle_s
    demo.templates.env.globals["cookie_name"] = app.config.cookie_name  # --dev-http: "session"
    return DemoApp(app, demo)
