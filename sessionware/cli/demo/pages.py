"""The demo's small print: deadlines, friendly error pages, the favicon.

Kept apart from the routes so :mod:`.app` stays about what the library
does.  Nothing here touches a session: the error pages are drawn *outside*
:class:`~sessionware.SessionMiddleware`, because the replies they dress up
(400 for a session ID in the URL, 503 for a store that is down) are made by
the middleware before the app runs.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...asgi import SessionMiddleware

__all__ = ["FAVICON", "DemoApp", "FriendlyErrors", "countdown"]

HERE = Path(__file__).parent
#: The demo's icon (an SVG; served for ``/favicon.ico`` too).
FAVICON = HERE / "static" / "favicon.svg"

_TITLES = {
    400: (
        "That link carries a session ID",
        "Its address contains a session ID (for example <code>?sessionid=…</code>). "
        "sessionware only accepts session IDs from the cookie, so a link can never plant a "
        "session on you or leak yours (session fixation, ASVS v4.0.3-3.1.1). "
        "The request was refused and reported in the security events.",
    ),
    503: (
        "The session store is unavailable",
        "The demo could not reach its session store. Nothing was saved; reading pages works "
        "anonymously until the store is back, with no restart needed.",
    ),
}


def countdown(seconds: float) -> str:
    """``seconds`` left as the demo shows them: ``29:41``, ``11:59:03``, ``29 d 23 h``."""
    left = max(0, int(seconds))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _page(status: int, detail: str) -> bytes:
    title, body = _TITLES[status]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · sessionware demo</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/demo.css"></head>
<body><main class="layout single"><section class="content">
<div class="card hero" data-testid="error-page">
<h1>{title}</h1><p>{body}</p>
<p class="muted small">The server said: <code>{escape(detail)}</code> (HTTP {status})</p>
<p><a class="btn primary" href="/" data-testid="back-home">Back to the demo</a></p>
</div></section></main></body></html>
""".encode()


class FriendlyErrors:
    """Replace the middleware's plain-text 400 and 503 replies with a page and a way back.

    Only ``text/plain`` replies with those statuses are touched (the
    middleware's canned ones); the status code is kept, so clients and tests
    see the same refusal.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                if status in _TITLES and kind.startswith(b"text/plain"):
                    held.update(start=message, body=b"")
                    return
            elif "start" in held and message["type"] == "http.response.body":
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                await _send_page(send, held["start"], held["body"])
                return
            await send(message)

        await self.app(scope, receive, wrapped)


async def _send_page(send: Send, start: Message, body: bytes) -> None:
    status = start["status"]
    page = _page(status, body.decode("utf-8", "replace").strip())
    keep = [
        (k, v)
        for k, v in start.get("headers", [])
        if k.lower() not in (b"content-type", b"content-length")
    ]
    headers = [
        *keep,
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(page)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": page})


class DemoApp(FriendlyErrors):
    """The demo as served: the session middleware behind the friendly error pages.

    ``backend``, ``config`` and ``demo`` are the middleware's store and
    settings and the :class:`~sessionware.cli.demo.app.Demo` (for tests and
    for anyone embedding the demo).
    """

    def __init__(self, middleware: SessionMiddleware, demo: Any) -> None:
        super().__init__(middleware)
        self.middleware = middleware
        self.backend = middleware.backend
        self.config = middleware.config
        self.demo = demo
