"""README examples, type-checked by ``mypy --strict`` in CI (not run by pytest)."""

from __future__ import annotations

from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from sessionware import (
    MemoryBackend,
    SessionConfig,
    SessionManager,
    SessionMiddleware,
    WSGISessionMiddleware,
)

SECRET = "change-me-change-me-change-me-change-me"

app = Starlette()
app.add_middleware(SessionMiddleware, secret_keys=[SECRET])

backend = MemoryBackend()
wrapped = SessionMiddleware(app, config=SessionConfig(secret_keys=[SECRET]), backend=backend)

flask_app = Flask(__name__)
flask_app.wsgi_app = WSGISessionMiddleware(flask_app.wsgi_app, secret_keys=[SECRET])  # type: ignore[method-assign]

manager = SessionManager(backend)
sessions = manager.list_sessions("alice")
revoked: int = manager.revoke_user("alice", keep=sessions[0].handle if sessions else None)
by_user: int = manager.revoke_user("alice", by="user")
erased: int = manager.erase_endings("alice")


async def why(request: Request) -> PlainTextResponse:
    """The end-reason example: a typed session tells why its cookie's session ended."""
    from sessionware import Session
    from sessionware.endings import explain

    session: Session = request.session  # type: ignore[assignment]
    reason: str | None = session.end_reason
    when: float | None = session.ended_at
    return PlainTextResponse(explain(reason, session.ended_by) or f"live ({when})")


async def view(request: Request) -> PlainTextResponse:
    request.session["n"] = int(request.session.get("n", 0)) + 1
    return PlainTextResponse(str(request.session["n"]))


def guarded() -> None:
    """The "Detecting attacks" example."""
    from sessionware import GuardConfig
    from sessionware.defences.metrics import PrometheusEvents

    app.add_middleware(
        SessionMiddleware,
        secret_keys=[SECRET],
        guard=GuardConfig(bad_limit=20, block_for=300),
        on_event=PrometheusEvents(),
    )
