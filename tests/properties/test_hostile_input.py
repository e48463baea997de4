"""Arbitrary client input never escapes as an exception, and reaches the code it is aimed at.

Cookie headers, query strings, paths and user agents are attacker-controlled
(ASVS 5.0 2.2.1, ID-08).  Whatever bytes arrive, the adapters answer with the
app's response, 400 (URL-borne ID) or 429 (the guard); never an unhandled
exception.  Bearer tokens and the Authorization header: test_hostile_tokens.py.

Each example comes from its own client address: the guard blocks a client
after about 20 bad cookies, so one address for every example would mostly
test the guard's 429.  Each test then asserts its *reach*: that the cookie
examples were parsed past the guard and that URL-borne IDs reached the
URL-ID check, so a strategy or setup that stops reaching the parser fails
instead of passing vacuously.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionware import SessionMiddleware, WSGISessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.events import Event
from tests.ci import in_ci
from tests.properties.addresses import fresh_client

ALLOWED = {200, 400, 401, 429}
SECRET = "h" * 32
NAME = "__Host-session"
#: Ten times the old 300 under CI (both runs stay well under a minute there).
EXAMPLES = 3000 if in_ci() else 300
#: Events that only the cookie path emits: the header was read and the value judged.
COOKIE_EVENTS = {"bad_signature", "foreign_cookie", "cookie_tossing", "oversized", "unknown_id"}
URL_NAMES = ["sid", "SessionID", "session_id", "JSESSIONID", "phpsessid", NAME]

header_bytes = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
named_cookie = st.one_of(
    st.builds(
        lambda a, b: f"{NAME}={a}; {NAME}={b}".encode("utf-8", "replace"),
        st.text(max_size=100),
        st.text(max_size=100),
    ),
    st.builds(
        lambda v: NAME.encode() + b"=" + v,
        st.binary(max_size=120).filter(
            lambda b: b";" not in b and b"\r" not in b and b"\n" not in b
        ),
    ),
    st.builds(
        lambda before, v: before + b"; " + NAME.encode() + b"=" + v,
        header_bytes.filter(lambda b: NAME.encode() not in b),
        st.binary(max_size=90).filter(lambda b: b";" not in b),
    ),
)
cookie_text = st.one_of(header_bytes, named_cookie)
#: A value that could be a session ID (22+ URL-safe characters): what a URL must not carry.
ID_LIKE = re.compile(rb"[A-Za-z0-9_.~-]{22,}")
url_id_query = st.builds(
    lambda pre, name, value: (pre + "&" if pre else "") + f"{name}={value}",
    st.text(alphabet="abz=&", max_size=12),
    st.sampled_from(URL_NAMES),
    st.text(alphabet="abcXYZ019-_", min_size=22, max_size=60),
).map(lambda q: q.encode())
query_text = st.one_of(st.binary(max_size=200), url_id_query)


def _observed() -> tuple[list[Event], Any]:
    seen: list[Event] = []
    return seen, seen.append


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = scope["session"]
    if scope["path"].endswith("w"):
        session["seen"] = session.get("seen", 0) + 1
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


ASGI_EVENTS, _asgi_sink = _observed()
MIDDLEWARE = SessionMiddleware(
    asgi_app, secret_keys=[SECRET], backend=MemoryBackend(), on_event=_asgi_sink
)


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    session = environ["sessionware.session"]
    if environ["PATH_INFO"].endswith("w"):
        session["seen"] = session.get("seen", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


WSGI_EVENTS, _wsgi_sink = _observed()
WSGI = WSGISessionMiddleware(
    wsgi_app, secret_keys=[SECRET], backend=MemoryBackend(), on_event=_wsgi_sink
)


async def _call(cookie: bytes, query: bytes, path: str, agent: bytes, client: str) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [(b"cookie", cookie), (b"user-agent", agent)],
        "client": (client, 1234),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await MIDDLEWARE(scope, receive, send)
    return int(sent[0]["status"])


def _kinds(events: list[Event], client: str) -> set[str]:
    return {e.kind for e in events if e.client == client}


def _assert_reach(reach: Counter[str]) -> None:
    """The examples reached the parser and the URL-ID check, not only the guard."""
    assert reach["named"] >= 20, f"the strategy produced too few cookies with our name: {reach}"
    assert reach["parsed"] >= 0.8 * reach["named"], f"cookies not parsed past the guard: {reach}"
    assert reach["guarded"] <= 0.05 * reach["total"], f"mostly the guard's 429: {reach}"
    assert reach["url_id"] >= 20, f"too few examples reached the URL-ID check: {reach}"
    assert reach["url_rejected"] >= 0.8 * reach["url_id"], f"URL IDs not refused: {reach}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    cookie=cookie_text,
    query=query_text,
    path=st.text(max_size=60).map(lambda p: "/" + p),
    agent=header_bytes,
)
def _asgi_example(
    reach: Counter[str], cookie: bytes, query: bytes, path: str, agent: bytes
) -> None:
    client = fresh_client()
    status = asyncio.run(_call(cookie, query, path, agent, client))
    assert status in ALLOWED
    _count(reach, cookie, query, status, _kinds(ASGI_EVENTS, client))
    ASGI_EVENTS.clear()


def _count(reach: Counter[str], cookie: bytes, query: bytes, status: int, kinds: set[str]) -> None:
    reach["total"] += 1
    reach["guarded"] += status == 429
    carries_url_id = any(
        ID_LIKE.match(query.lower().partition(n.lower().encode() + b"=")[2]) is not None
        for n in URL_NAMES
        if n.lower().encode() + b"=" in query.lower()
    )
    if carries_url_id:
        reach["url_id"] += 1
        reach["url_rejected"] += status == 400 and "url_id" in kinds
    elif NAME.encode() + b"=" in cookie:
        reach["named"] += 1
        reach["parsed"] += bool(kinds & COOKIE_EVENTS)


def test_asgi_survives_any_cookie_query_path_and_agent() -> None:
    """The ASGI adapter turns any hostile input into a clean status, parsing the cookies."""
    reach: Counter[str] = Counter()
    _asgi_example(reach)
    _assert_reach(reach)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cookie=cookie_text, query=query_text, path=st.text(max_size=60).map(lambda p: "/" + p))
def _wsgi_example(reach: Counter[str], cookie: bytes, query: bytes, path: str) -> None:
    client = fresh_client()
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query.decode("latin-1"),
        "HTTP_COOKIE": cookie.decode("latin-1"),
        "REMOTE_ADDR": client,
    }
    body = WSGI(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    status = int(statuses[0].split()[0])
    assert status in ALLOWED
    _count(reach, cookie, query, status, _kinds(WSGI_EVENTS, client))
    WSGI_EVENTS.clear()


def test_wsgi_survives_any_cookie_query_and_path() -> None:
    """The WSGI adapter turns any hostile input into a clean status, parsing the cookies."""
    reach: Counter[str] = Counter()
    _wsgi_example(reach)
    _assert_reach(reach)
