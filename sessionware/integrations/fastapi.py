"""FastAPI dependencies: the session, the signed-in user, recent authentication.

::

    from fastapi import Depends, FastAPI
    from sessionware import SessionMiddleware
    from sessionware.integrations.fastapi import SessionDep, UserDep, require_recent_auth

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_keys=[SECRET])

    @app.get("/me")
    async def me(user_id: UserDep) -> dict[str, str]:           # 401 when anonymous
        return {"user": user_id}

    @app.post("/password", dependencies=[Depends(require_recent_auth(300))])
    async def change_password(session: SessionDep) -> None: ...  # 401 unless signed in <= 5 min ago

Every dependency reads ``scope["session"]`` and nothing else, so it works
for cookie sessions and for the read-only token sessions that token mode
puts in the same place; the two families differ only in how they describe
themselves: the cookie ones declare an ``apiKey``-in-cookie security scheme
(``SessionCookie``), the token ones an HTTP ``bearer`` scheme
(``BearerToken``), so the OpenAPI schema and ``/docs`` show which routes
need a signed-in user and how.

``require_recent_auth`` is the step-up check before sensitive actions
(ASVS v4.0.3-3.7.1, v5.0.0-7.5.1/7.5.3; TM-07): it compares the session's
``auth_time`` (set by ``login()``) with ``max_age`` and answers 401 with a
machine-readable reason.  The bearer flavour answers with RFC 9470's
``insufficient_user_authentication`` challenge and ``max_age``.

If you change ``cookie_name``, build the dependencies for it so the schema
names the right cookie: ``auth = SessionAuth(cookie_name="__Host-app")``,
then use ``auth.require_user`` / ``auth.require_recent_auth(...)``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from ..endings import explain
from ..errors import MissingExtra
from ..session import Session

try:
    from fastapi import Depends, HTTPException, Security
    from fastapi.requests import HTTPConnection
    from fastapi.security import APIKeyCookie, HTTPBearer
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("fastapi", "FastAPI") from exc

__all__ = [
    "AUTH_RESPONSES",
    "BearerAuth",
    "SessionAuth",
    "SessionDep",
    "TokenUserDep",
    "UserDep",
    "get_session",
    "require_recent_auth",
    "require_recent_token_auth",
    "require_token_user",
    "require_user",
]

#: Pass as ``responses=`` on routes or routers that use the guards, so the 401 is documented.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in, or the last sign-in is too old for this action."}
}


def get_session(connection: HTTPConnection) -> Session:
    """The request's session (``scope["session"]``); anonymous sessions included."""
    session = connection.scope.get("session")
    if session is None:
        raise RuntimeError(
            "no session on this request: add sessionware.SessionMiddleware to the app"
        )
    return session  # type: ignore[no-any-return]


#: The session, as a dependency: ``async def view(session: SessionDep)``.
SessionDep = Annotated[Session, Depends(get_session)]
Dependency = Callable[..., Awaitable[str]]
Scheme = APIKeyCookie | HTTPBearer


def _seconds(max_age: float | timedelta) -> float:
    seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else float(max_age)
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"max_age must be a positive, finite duration, got {max_age!r}")
    return seconds


def _declare(func: Dependency, scheme: Scheme) -> Dependency:
    """Give ``func`` the parameters FastAPI reads: the session and the security scheme.

    Set as a real signature (not annotations) because the scheme is chosen per
    instance, and string annotations cannot name a closure variable.
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    func.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("session", kind, annotation=SessionDep),
            inspect.Parameter("_credential", kind, annotation=Annotated[Any, Security(scheme)]),
        ],
        return_annotation=str,
    )
    return func


_STALE = "insufficient_user_authentication"  # RFC 9470 §3


class _Auth:
    """What the cookie and bearer families share: the checks and the 401s."""

    scheme: Scheme

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.require_user: Dependency = self._user_dependency()

    def challenge(self, error: str | None = None, max_age: float | None = None) -> str:
        raise NotImplementedError

    def _anonymous(self, session: Session | None = None) -> HTTPException:
        detail: dict[str, Any] = {"error": "not_authenticated", "message": "Sign in to continue."}
        reason = getattr(session, "end_reason", None)
        if reason is not None:
            # The cookie named a session that has ended: say why (#17), so the
            # client can tell "signed out from another device" from "expired".
            assert session is not None
            by = session.ended_by
            detail.update(
                reason=reason,
                ended_at=session.ended_at,
                ended_by=by,
                message=f"{explain(reason, by)} Sign in to continue.",
            )
        return HTTPException(
            status_code=401, detail=detail, headers={"WWW-Authenticate": self.challenge()}
        )

    def _user_dependency(self) -> Dependency:
        scheme = self.scheme

        async def require_user(session: Session, _credential: Any = None) -> str:
            """The signed-in user's ID; 401 when the session is anonymous."""
            user_id = getattr(session, "user_id", None)
            if user_id is None:
                raise self._anonymous(session)
            return str(user_id)

        return _declare(require_user, scheme)

    def require_recent_auth(self, max_age: float | timedelta) -> Dependency:
        """A dependency that demands an authentication at most ``max_age`` old.

        Returns the user's ID.  Anonymous: 401 ``not_authenticated``.  Signed
        in too long ago: 401 ``reauthentication_required`` with ``max_age``
        and ``auth_age`` (seconds), so the client can prompt for the password
        and retry.
        """
        limit = _seconds(max_age)
        scheme = self.scheme

        async def require_recent_auth(session: Session, _credential: Any = None) -> str:
            user_id = getattr(session, "user_id", None)
            if user_id is None:
                raise self._anonymous(session)
            auth_time = getattr(session, "auth_time", None)
            age = math.inf if auth_time is None else max(0.0, self.clock() - auth_time)
            if age > limit:
                shown = "unknown" if math.isinf(age) else f"{age:.0f} s"
                raise HTTPException(
                    status_code=401,
                    detail={
                        "error": "reauthentication_required",
                        "message": (
                            f"This action needs a sign-in from the last {limit:.0f} s; "
                            f"yours was {shown} ago. Sign in again and retry."
                        ),
                        "max_age": limit,
                        "auth_age": None if math.isinf(age) else round(age),
                    },
                    headers={
                        "WWW-Authenticate": self.challenge(
                            "insufficient_user_authentication", limit
                        )
                    },
                )
            return str(user_id)

        return _declare(require_recent_auth, scheme)


class SessionAuth(_Auth):
    """Cookie-session dependencies, documented as an ``apiKey`` cookie scheme.

    :param cookie_name: the session cookie's name, as configured on the middleware.
    :param scheme_name: the security scheme's name in the OpenAPI schema.
    :param clock: Unix-time clock for ``require_recent_auth`` (tests inject one).
    """

    def __init__(
        self,
        cookie_name: str = "__Host-session",
        *,
        scheme_name: str = "SessionCookie",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cookie_name = cookie_name
        self.scheme = APIKeyCookie(
            name=cookie_name,
            scheme_name=scheme_name,
            description="Server-side session, sent as an HttpOnly cookie after sign-in.",
            auto_error=False,
        )
        super().__init__(clock)

    def challenge(self, error: str | None = None, max_age: float | None = None) -> str:
        # No registered scheme exists for cookie sessions; RFC 9110 §15.5.2 still
        # asks a 401 to carry a challenge, so name the cookie it wants.
        text = f'Cookie realm="session", cookie-name="{self.cookie_name}"'
        if error is not None:
            text += f', error="{error}", max_age="{max_age:.0f}"'
        return text


class BearerAuth(_Auth):
    """Token-mode dependencies, documented as an HTTP ``bearer`` scheme (RFC 6750).

    They read the same ``scope["session"]`` that token mode fills from
    ``Authorization: Bearer``; the recent-auth failure uses RFC 9470's
    ``insufficient_user_authentication`` challenge.
    """

    def __init__(
        self, *, scheme_name: str = "BearerToken", clock: Callable[[], float] = time.time
    ) -> None:
        self.scheme = HTTPBearer(
            scheme_name=scheme_name,
            bearerFormat="JWT",
            description="Short-lived access token from the sessionware token service.",
            auto_error=False,
        )
        super().__init__(clock)

    def challenge(self, error: str | None = None, max_age: float | None = None) -> str:
        if error is None:
            return "Bearer"
        return (
            f'Bearer error="{error}", error_description="A more recent authentication '
            f'is required", max_age="{max_age:.0f}"'
        )


_cookie = SessionAuth()
_bearer = BearerAuth()

#: 401 unless a user is signed in (cookie session); returns the user ID.
require_user: Dependency = _cookie.require_user
#: ``require_recent_auth(max_age)``: 401 unless signed in at most ``max_age`` ago.
require_recent_auth = _cookie.require_recent_auth
#: Token-mode twin of :data:`require_user`.
require_token_user: Dependency = _bearer.require_user
#: Token-mode twin of :data:`require_recent_auth`.
require_recent_token_auth = _bearer.require_recent_auth

#: The signed-in user's ID: ``async def view(user_id: UserDep)``.
UserDep = Annotated[str, Depends(require_user)]
#: The signed-in user's ID in token mode.
TokenUserDep = Annotated[str, Depends(require_token_user)]
