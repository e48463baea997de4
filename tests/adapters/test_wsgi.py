"""WSGISessionMiddleware through werkzeug's test Client (https) and a plain Flask app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.test import Client, TestResponse

from sessionware import ConfigError, SessionConfig, WSGISessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.testing import CountingBackend, FakeClock
from sessionware.wsgi import ENVIRON_KEY

from ..conftest import SECRET
from .conftest import FlakyBackend, cookie_attrs

BASE = "https://localhost"
TEXT = [("Content-Type", "text/plain")]


class Body:
    """A response iterable that records whether the server closed it (PEP 3333)."""

    def __init__(self, chunks: Iterable[bytes], log: list[str]) -> None:
        self.chunks = chunks
        self.log = log

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.log.append("chunk")
            yield chunk

    def close(self) -> None:
        self.log.append("closed")


def make_app(log: list[str]) -> Callable[..., Iterable[bytes]]:
    """A bare WSGI app with one behaviour per path."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ[ENVIRON_KEY]
        path = environ["PATH_INFO"]
        status, headers = "200 OK", list(TEXT)
        if path == "/count":
            session["n"] = session.get("n", 0) + 1
            body = str(session["n"])
        elif path == "/peek":
            body = repr(session.get("n"))
        elif path == "/boom":
            session["n"] = 99
            raise RuntimeError("app failure")
        elif path == "/fail":
            session["n"] = 99
            status, body = "500 Internal Server Error", "failed"
        elif path == "/cached":
            session["n"] = 1
            headers.append(("Cache-Control", "public, max-age=3600"))
            body = "x"
        elif path == "/grow":
            session.setdefault("cart", []).extend(["x" * 50] * 5)  # in place, past 200 bytes
            body = "grown"
        elif path == "/lazy":
            return lazy(session, start_response, log)
        else:
            body = "hello"
        start_response(status, headers)
        return Body([body.encode()], log)

    return app


def lazy(session: Any, start_response: Callable[..., Any], log: list[str]) -> Iterator[bytes]:
    """A generator app that writes the session and calls start_response on first iteration."""
    try:
        session["n"] = session.get("n", 0) + 1
        start_response("200 OK", list(TEXT))
        for i in range(3):
            log.append("chunk")
            yield f"chunk{i};".encode()
    finally:
        log.append("closed")


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def counting() -> CountingBackend:
    return CountingBackend(MemoryBackend())


@pytest.fixture
def make_client(clock: FakeClock, log: list[str]) -> Callable[..., Client]:
    def make(backend: Any, **fields: Any) -> Client:
        fields.setdefault("secret_keys", [SECRET])
        return Client(WSGISessionMiddleware(make_app(log), backend=backend, clock=clock, **fields))

    return make


@pytest.fixture
def client(make_client: Callable[..., Client], counting: CountingBackend) -> Client:
    return make_client(counting)


def get(client: Client, path: str) -> TestResponse:
    response = client.get(path, base_url=BASE)
    response.get_data()
    response.close()
    return response


# -- costs (RS-01, RS-02) ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/peek"])
def test_request_without_cookie_costs_nothing(
    client: Client, counting: CountingBackend, path: str
) -> None:
    """No cookie: zero backend calls and no Set-Cookie."""
    response = get(client, path)
    assert response.status_code == 200
    assert counting.total == 0
    assert "Set-Cookie" not in response.headers


def test_valid_cookie_untouched_session_is_one_load_no_apply(
    client: Client, counting: CountingBackend
) -> None:
    """A valid cookie on a handler that ignores the session: exactly one load and no write."""
    get(client, "/count")
    counting.calls.clear()
    assert "Set-Cookie" not in get(client, "/").headers
    assert dict(counting.calls) == {"load": 1}


def test_session_round_trip_and_hardened_cookie(client: Client) -> None:
    """Counting works across requests and the cookie has the default hardened attributes."""
    attrs = cookie_attrs(get(client, "/count").headers["Set-Cookie"])
    assert attrs["name"] == "__Host-session" and attrs["path"] == "/"
    assert {"secure", "httponly", "samesite"} <= attrs.keys() and "domain" not in attrs
    assert [get(client, "/count").text for _ in range(3)] == ["2", "3", "4"]


# -- caching headers (CK-07) --------------------------------------------------------------------


def test_reads_vary_on_cookie(client: Client) -> None:
    """A response that read the session carries Vary: Cookie."""
    assert "Vary" not in get(client, "/").headers
    assert get(client, "/peek").headers["Vary"] == "Cookie"


def test_set_cookie_responses_are_not_cacheable(client: Client) -> None:
    """A response setting the cookie says no-store, replacing the app's own Cache-Control."""
    response = get(client, "/cached")
    assert "Set-Cookie" in response.headers
    assert response.headers.getlist("Cache-Control") == ["no-store"]
    response = get(client, "/cached")
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "public, max-age=3600"


# -- the app's failures and the iterable's close() -------------------------------------------


def test_app_exception_commits_nothing(client: Client, counting: CountingBackend) -> None:
    """An exception from the app propagates and nothing is written."""
    get(client, "/count")
    counting.calls.clear()
    with pytest.raises(RuntimeError):
        client.get("/boom", base_url=BASE)
    assert counting.calls["apply"] == 0
    assert get(client, "/peek").text == "1"


def test_5xx_commits_nothing(client: Client, counting: CountingBackend, log: list[str]) -> None:
    """A 500 answer writes nothing and sets no cookie, and its body is still closed."""
    get(client, "/count")
    counting.calls.clear()
    response = get(client, "/fail")
    assert response.status_code == 500 and "Set-Cookie" not in response.headers
    assert counting.calls["apply"] == 0
    assert log[-1] == "closed"


def test_iterable_close_is_called(client: Client, log: list[str]) -> None:
    """The app's iterable is iterated and then closed (PEP 3333)."""
    get(client, "/count")
    assert log == ["chunk", "closed"]


def test_lazy_generator_app(client: Client, log: list[str]) -> None:
    """An app that calls start_response from inside its generator still gets its cookie."""
    response = get(client, "/lazy")
    assert response.text == "chunk0;chunk1;chunk2;"
    assert "Set-Cookie" in response.headers
    assert get(client, "/peek").text == "1"


def test_oversized_session_at_commit_is_a_plain_500(
    make_client: Callable[..., Client], counting: CountingBackend, log: list[str]
) -> None:
    """Data grown in place past max_data_bytes is refused at commit: short 500, body closed."""
    response = get(make_client(counting, max_data_bytes=200), "/grow")
    assert response.status_code == 500 and response.text.startswith("Internal error")
    assert "Set-Cookie" not in response.headers
    assert counting.calls["apply"] == 0
    assert log == ["closed"]


def test_url_id_is_answered_400(client: Client, counting: CountingBackend) -> None:
    """A ``;jsessionid=`` path parameter gets a short 400 before the app runs (FX-01)."""
    response = get(client, "/count;jsessionid=kR3v9xQe0YwT2bN7mLp4sHz8")
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    assert counting.total == 0


# -- backend faults (RS-05) ----------------------------------------------------------------------


def test_backend_down_reads_anonymous_writes_503_then_recovers(
    make_client: Callable[..., Client], log: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """With the store down reads are anonymous, writes get a short 503, and service resumes."""
    backend = FlakyBackend()
    client = make_client(backend)
    assert get(client, "/count").text == "1"
    backend.down = True
    caplog.set_level(logging.WARNING, logger="sessionware.security")
    read = get(client, "/peek")
    assert read.status_code == 200 and read.text == "None"
    log.clear()
    written = get(client, "/count")
    assert written.status_code == 503
    assert written.headers["Retry-After"] == "2"
    assert written.headers["Content-Type"].startswith("text/plain")
    assert len(written.data) < 100 and b"Traceback" not in written.data
    assert log == ["closed"]  # the app's body was closed without being sent
    assert any(r.getMessage().startswith("backend_down") for r in caplog.records)
    backend.down = False
    assert get(client, "/peek").text == "1"
    assert get(client, "/count").text == "2"


def test_backend_down_during_a_lazy_generator(
    make_client: Callable[..., Client], log: list[str]
) -> None:
    """A generator app whose commit fails sends the 503 body instead of its chunks."""
    backend = FlakyBackend()
    client = make_client(backend)
    backend.down = True
    response = get(client, "/lazy")
    assert response.status_code == 503
    assert b"chunk" not in response.data
    assert "closed" in log


# -- construction and Flask ------------------------------------------------------------------------


def test_plain_flask_app_needs_one_line() -> None:
    """``app.wsgi_app = WSGISessionMiddleware(app.wsgi_app, secret_keys=[...])`` is all it takes."""
    app = Flask(__name__)

    @app.get("/count")
    def count() -> str:
        session = request.environ[ENVIRON_KEY]
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.get("/login")
    def login() -> str:
        request.environ[ENVIRON_KEY].login(request.args["user"])
        return "ok"

    @app.get("/whoami")
    def whoami() -> str:
        return str(request.environ[ENVIRON_KEY].user_id)

    @app.get("/boom")
    def boom() -> str:
        request.environ[ENVIRON_KEY]["n"] = 99
        raise RuntimeError("app failure")

    app.wsgi_app = WSGISessionMiddleware(app.wsgi_app, secret_keys=[SECRET])  # type: ignore[method-assign]
    app.logger.disabled = True  # the /boom traceback is expected
    client = app.test_client()
    assert [client.get("/count", base_url=BASE).text for _ in range(2)] == ["1", "2"]
    client.get("/login?user=alice", base_url=BASE)
    assert client.get("/whoami", base_url=BASE).text == "alice"
    failed = client.get("/boom", base_url=BASE)
    assert failed.status_code == 500 and "Set-Cookie" not in failed.headers
    assert client.get("/count", base_url=BASE).text == "3"


def test_config_object_and_backend_keyword(counting: CountingBackend, log: list[str]) -> None:
    """``WSGISessionMiddleware(app, config=..., backend=...)`` uses that config and store."""
    config = SessionConfig(secret_keys=[SECRET], cookie_name="sw", secure=False)
    middleware = WSGISessionMiddleware(make_app(log), config=config, backend=counting)
    assert middleware.config is config and middleware.backend is counting
    response = Client(middleware).get("/count")  # plain http works in dev mode (CK-09)
    assert response.headers["Set-Cookie"].startswith("sw=")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="no-secret"),
        pytest.param({"secret_keys": ["short"]}, id="short-secret"),
        pytest.param({"secret_keys": [SECRET], "cookie_nam": "x"}, id="typo"),
        pytest.param(
            {"config": SessionConfig(secret_keys=[SECRET]), "secure": False}, id="config-and-fields"
        ),
    ],
)
def test_bad_construction_is_a_config_error(kwargs: dict[str, Any], log: list[str]) -> None:
    """Missing secrets, unknown fields or config plus fields fail at construction."""
    with pytest.raises(ConfigError):
        WSGISessionMiddleware(make_app(log), **kwargs)
