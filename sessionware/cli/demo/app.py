"""The demo's routes: sign in, counter, your sessions, a step-up action, security events.

Everything that matters is the library's: ``session.login()`` (new ID,
``auth_time``), ``session.logout()``, ``SessionManager`` for the "Your
sessions" page, ``auth_time`` for the step-up check, ``on_event`` for the
events panel.  The rest is deliberately plain Starlette.

Forms are CSRF-safe without tokens here: every state change is a POST, the
cookie is ``SameSite=Lax`` (not sent on cross-site POSTs), and
:class:`OriginCheck` refuses unsafe requests whose ``Origin`` or
``Sec-Fetch-Site`` says they come from another site (CS-01).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from ...access import session_of
from ...endings import explain
from ...events import Event, emit
from ...manager import SessionInfo, SessionManager
from ...session import Session
from .pages import FAVICON, countdown

__all__ = ["DEMO_USERS", "Demo", "OriginCheck"]

HERE = Path(__file__).parent
#: Demo accounts, shown on the sign-in page: name -> (password, display name).
DEMO_USERS: dict[str, tuple[str, str]] = {
    "alice": ("wonderland", "Alice Liddell"),
    "bob": ("builder", "Bob the Builder"),
}
#: Where the re-authentication form may send the user back to.
_NEXT = frozenset({"/sensitive", "/sessions"})
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Events that are routine lifecycle (green) and ones that are expected after a
#: sign-out elsewhere or an expiry (neutral); everything else is an alert (red).
_ROUTINE = frozenset({"created", "login", "logout", "regenerated", "renewed", "revoked"})
_NEUTRAL = frozenset({"unknown_id", "expired", "logout_replay", "ended"})
#: What a device sees when its session ended elsewhere (until end reasons say why).
ENDED = (
    "You were signed out: this session ended on the server (signed out from another "
    "device, or it expired). Sign in again to continue."
)


def _ago(then: float | None, now: float) -> str:
    if then is None:
        return "never"
    seconds = max(0, int(now - then))
    if seconds < 60:
        return "just now" if seconds < 5 else f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def _stamp(then: float | None) -> str:
    if then is None:
        return ""
    return datetime.fromtimestamp(then, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class OriginCheck:
    """Refuse cross-site unsafe requests (defence in depth beside SameSite=Lax).

    ``Sec-Fetch-Site: cross-site`` or an ``Origin`` that is not this host
    means another site is submitting the form: 403 before the app runs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _UNSAFE:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            origin = headers.get("origin")
            cross = headers.get("sec-fetch-site") == "cross-site"
            if origin is not None and origin != "null":
                cross = cross or origin.split("://", 1)[-1] != host
            elif origin == "null":
                cross = True
            if cross:
                response = PlainTextResponse("Cross-site request refused.", status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Demo:
    """State and endpoints of one demo app."""

    def __init__(
        self,
        manager: SessionManager,
        *,
        store: str,
        reauth_seconds: float,
        clock: Callable[[], float] = time.time,
        events: int = 30,
        idle_for: Callable[[bool], float] | None = None,
    ) -> None:
        self.manager = manager
        #: Idle limit of a session (remember-me or not), from the middleware's config.
        self.idle_for = idle_for or (lambda remember: 30 * 60.0)
        self.store = store
        self.reauth_seconds = reauth_seconds
        self.clock = clock
        self.events: deque[Event] = deque(maxlen=events)
        #: The idle limit, for "expired after 30 minutes of inactivity" (set by the factory).
        self.idle_seconds: float | None = None
        self.templates = Jinja2Templates(directory=HERE / "templates")
        env = self.templates.env
        env.globals["demo_users"] = DEMO_USERS
        env.globals["store"] = store

    def on_event(self, event: Event) -> None:
        """Collect security events for the panel (bounded: the last few only)."""
        self.events.appendleft(event)

    def starlette(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self.home),
                Route("/count", self.count, methods=["POST"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/sessions", self.sessions),
                Route("/sessions/revoke", self.revoke, methods=["POST"]),
                Route("/sessions/revoke-others", self.revoke_others, methods=["POST"]),
                Route("/sensitive", self.sensitive, methods=["GET", "POST"]),
                Route("/reauth", self.reauth, methods=["POST"]),
                Route("/favicon.ico", self.favicon),
                Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            ]
        )

    # -- helpers -------------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        session = session_of(request)
        now = self.clock()
        user = session.user_id
        ended = self._ended(session) or request.query_params.get("ended") == "1"
        # Why this browser's session ended, through public API only (#17); the
        # neutral sentence when the store kept no reason (a backend without tombstones).
        reason = explain(session.end_reason, session.ended_by, self.idle_seconds)
        context.update(
            ended=(reason or ENDED) if (ended or reason) and user is None else None,
            deadlines=self._deadlines(session.record, now) if user else None,
            user=user,
            display=DEMO_USERS.get(user or "", ("", user or ""))[1],
            session=session,
            flash=session.pop("flash", None) if user else None,
            events=[self._event_view(e, now) for e in self.events if "alias_of" not in e.detail],
            ago=lambda t: _ago(t, now),
            stamp=_stamp,
            now=now,
        )
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["cache-control"] = "no-store"
        return response

    def _event_view(self, event: Event, now: float) -> dict[str, Any]:
        return {
            "kind": event.kind,
            "ago": _ago(event.time, now),
            "stamp": _stamp(event.time),
            "client": event.client or "-",
            "handle": (event.handle or "")[:8],
            "user": event.user_id or "",
            "detail": ", ".join(f"{k}={v}" for k, v in event.detail.items()),
            "alert": event.kind not in _ROUTINE and event.kind not in _NEUTRAL,
            "neutral": event.kind in _NEUTRAL,
        }

    @staticmethod
    def _ended(session: Session) -> bool:
        """This request brought a valid cookie whose session no longer exists."""
        return session.presented and session.record is None and not session.store_unavailable

    def deadlines(self, info: SessionInfo, now: float) -> dict[str, Any]:
        """A row's idle and absolute deadlines: Unix times and the time left."""
        idle = min(info.last_active + self.idle_for(info.remember), info.absolute_at)
        return {
            "idle": idle,
            "absolute": info.absolute_at,
            "idle_left": countdown(idle - now),
            "absolute_left": countdown(info.absolute_at - now),
        }

    def _deadlines(self, record: Any, now: float) -> dict[str, Any] | None:
        if record is None:
            return None
        return self.deadlines(SessionInfo.from_record(record), now)

    def _recent(self, session: Session) -> bool:
        auth = session.auth_time
        return auth is not None and self.clock() - auth <= self.reauth_seconds

    @staticmethod
    def _check_password(user: str, password: str) -> bool:
        expected = DEMO_USERS.get(user, ("", ""))[0]
        ok = hmac.compare_digest(password.encode(), expected.encode())
        return ok and user in DEMO_USERS

    def _back(self, path: str = "/", session: Session | None = None) -> RedirectResponse:
        """303 to ``path``; ``?ended=1`` tells that page the old session had ended."""
        if session is not None and self._ended(session) and session.user_id is None:
            path += "?ended=1"
        return RedirectResponse(path, status_code=303)

    # -- pages -----------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return self.render(request, "home.html", count=session_of(request).get("count", 0))

    async def favicon(self, request: Request) -> Response:
        return FileResponse(FAVICON, media_type="image/svg+xml")

    async def count(self, request: Request) -> Response:
        session = session_of(request)
        ended = self._ended(session)
        session["count"] = int(session.get("count", 0)) + 1
        return RedirectResponse("/?ended=1" if ended else "/", status_code=303)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        user = str(form.get("username", "")).strip().lower()
        password = str(form.get("password", ""))
        if not self._check_password(user, password):
            return self.render(
                request,
                "home.html",
                status=401,
                count=session_of(request).get("count", 0),
                error="Unknown user or wrong password.",
                username=user,
            )
        session = session_of(request)
        session.login(user, remember=form.get("remember") == "on")
        session["flash"] = f"Signed in as {DEMO_USERS[user][1]}; your session has a brand-new ID."
        return self._back()

    async def logout(self, request: Request) -> Response:
        session = session_of(request)
        session.logout()
        return self._back()

    async def sessions(self, request: Request) -> Response:
        session = session_of(request)
        if session.user_id is None:
            return self._back(session=session)
        items = await self.manager.alist_sessions(session.user_id)
        items.sort(key=lambda s: (s.handle != session.handle, -s.last_active))
        now = self.clock()
        rows = [(s, self.deadlines(s, now)) for s in items]
        return self.render(request, "sessions.html", rows=rows, current=session.handle)

    async def revoke(self, request: Request) -> Response:
        session = session_of(request)
        user = session.user_id
        if user is None:
            return self._back()
        if not self._recent(session):
            return self._reauth_page(request, "/sessions")
        handle = str((await request.form()).get("handle", ""))
        owned = {s.handle for s in await self.manager.alist_sessions(user)}
        if handle == session.handle:
            session.logout()
            return self._back()
        if handle in owned and await self.manager.arevoke(handle, by="user"):
            self._revoked(request, user, [handle])
            session["flash"] = "That session is signed out; its next request will be anonymous."
        return self._back("/sessions")

    async def revoke_others(self, request: Request) -> Response:
        session = session_of(request)
        user = session.user_id
        if user is None:
            return self._back()
        if not self._recent(session):
            return self._reauth_page(request, "/sessions")
        others = [s.handle for s in await self.manager.alist_sessions(user)]
        count = await self.manager.arevoke_user(user, keep=session.handle, by="user")
        self._revoked(request, user, [h for h in others if h != session.handle])
        session["flash"] = f"Signed out {count} other session{'s' if count != 1 else ''}."
        return self._back("/sessions")

    def _revoked(self, request: Request, user: str, handles: list[str]) -> None:
        client = request.client.host if request.client else None
        for handle in handles:
            emit(Event("revoked", client, handle, user), self.on_event)

    async def sensitive(self, request: Request) -> Response:
        session = session_of(request)
        if session.user_id is None:
            return self._back(session=session)
        if not self._recent(session):
            return self._reauth_page(request, "/sensitive")
        codes = None
        if request.method == "POST":
            codes = [f"{secrets.randbelow(10**8):08d}" for _ in range(6)]
        return self.render(request, "sensitive.html", codes=codes, limit=self.reauth_seconds)

    def _reauth_page(self, request: Request, next_path: str, error: str | None = None) -> Response:
        status = 401 if error or request.method == "POST" else 200
        return self.render(
            request,
            "reauth.html",
            status=status,
            next=next_path,
            error=error,
            limit=self.reauth_seconds,
        )

    async def reauth(self, request: Request) -> Response:
        session = session_of(request)
        user = session.user_id
        if user is None:
            return self._back()
        form = await request.form()
        next_path = str(form.get("next", "/sensitive"))
        if next_path not in _NEXT:
            next_path = "/sensitive"
        if not self._check_password(user, str(form.get("password", ""))):
            return self._reauth_page(request, next_path, "Wrong password.")
        # Re-authentication issues a new ID too (ASVS v5.0.0-7.2.4).
        session.login(user, remember=session.remember)
        session["flash"] = "Password confirmed."
        return self._back(next_path)
