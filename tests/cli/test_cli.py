"""The ``sessionware`` command line, run in-process against real middleware-made sessions."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from starlette.applications import Starlette
from werkzeug.test import Client

from sessionware import (
    BackendUnavailable,
    MemoryBackend,
    SessionConfig,
    SessionMiddleware,
    WSGISessionMiddleware,
)
from sessionware.cli.command import main
from sessionware.integrations.flask import Sessionware
from sessionware.testing import FakeClock

SECRET = secrets.token_urlsafe(48)
ROOT = Path(__file__).parents[2]
HERE = "tests.cli.test_cli"

#: Backends the CLI reaches through ``--backend tests.cli.test_cli:NAME``.
BACKEND = MemoryBackend()
EXPIRED = MemoryBackend()


class PurgingBackend(MemoryBackend):
    """A store with the SQL backend's ``purge_expired(now=None, limit=None)`` signature."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Any] = []

    def purge_expired(self, now: float | None = None, limit: int | None = None) -> int:
        self.calls.append(limit)
        return 3


class SelfExpiringBackend(MemoryBackend):
    """A store that expires records by itself (like Redis TTLs): no sweep, no purge."""

    sweep = None  # type: ignore[assignment]


class DownBackend(MemoryBackend):
    """A store that cannot be reached."""

    def by_user(self, user_id: str, now: float) -> Any:
        raise BackendUnavailable("connection refused")

    def load_handle(self, handle: str, now: float) -> Any:
        raise BackendUnavailable("connection refused")


PURGING = PurgingBackend()
SELF_EXPIRING = SelfExpiringBackend()
DOWN = DownBackend()


def sign_in(backend: MemoryBackend, user: str, agent: str = "curl/8.0", clock: Any = None) -> str:
    """Log ``user`` in through the real WSGI middleware; returns the session's handle."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["sessionware.session"]
        session.login(user)
        start_response("200 OK", [])
        return [b""]

    kwargs = {"clock": clock} if clock is not None else {}
    middleware = WSGISessionMiddleware(app, secret_keys=[SECRET], backend=backend, **kwargs)
    Client(middleware).get("/", headers={"User-Agent": agent})
    return backend.by_user(user, time.time() if clock is None else clock())[-1].handle


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["keygen"],
        ["sessions"],
        ["sessions", "list"],
        ["sessions", "revoke"],
        ["cleanup"],
        ["audit"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` works on every command and subcommand."""
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: sessionware" in capsys.readouterr().out


def test_keygen_prints_a_usable_random_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs give different secrets that SessionConfig accepts."""
    _, first, _ = run(capsys, "keygen")
    _, second, _ = run(capsys, "keygen")
    assert first != second and len(first.strip()) >= 43
    SessionConfig(secret_keys=[first.strip()])


def test_keygen_eddsa_prints_a_matching_key_pair(capsys: pytest.CaptureFixture[str]) -> None:
    """``--eddsa`` prints an Ed25519 private key and its public key as PEM."""
    code, out, _ = run(capsys, "keygen", "--eddsa")
    assert code == 0
    private_pem, _, public_rest = out.partition("-----END PRIVATE KEY-----\n")
    private = load_pem_private_key((private_pem + "-----END PRIVATE KEY-----\n").encode(), None)
    public = load_pem_public_key(public_rest.encode())
    assert isinstance(private, Ed25519PrivateKey) and isinstance(public, Ed25519PublicKey)
    public.verify(private.sign(b"x"), b"x")


def test_sessions_list_shows_each_device(capsys: pytest.CaptureFixture[str]) -> None:
    """``sessions list`` prints one row per live session with device and handle."""
    laptop = sign_in(BACKEND, "list-user", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    phone = sign_in(BACKEND, "list-user", "Mozilla/5.0 (iPhone) Safari/605.1")
    code, out, _ = run(capsys, "sessions", "list", "list-user", "--backend", f"{HERE}:BACKEND")
    assert code == 0
    assert laptop in out and phone in out
    assert "Firefox on Linux" in out and "Safari on iOS" in out


def test_sessions_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` prints machine-readable session info (never the session ID)."""
    handle = sign_in(BACKEND, "json-user")
    code, out, _ = run(
        capsys, "sessions", "list", "json-user", "--backend", f"{HERE}:BACKEND", "--json"
    )
    rows = json.loads(out)
    assert code == 0 and [r["handle"] for r in rows] == [handle]
    assert rows[0]["user_id"] == "json-user" and "key" not in rows[0]


def test_sessions_list_for_unknown_user(capsys: pytest.CaptureFixture[str]) -> None:
    """A user without sessions is reported, not an error."""
    code, out, _ = run(capsys, "sessions", "list", "nobody", "--backend", f"{HERE}:BACKEND")
    assert code == 0 and "no live sessions" in out


def test_revoke_one_session_by_handle(capsys: pytest.CaptureFixture[str]) -> None:
    """``sessions revoke HANDLE`` ends that session; a second try says it is gone (exit 1)."""
    handle = sign_in(BACKEND, "revoke-user")
    code, out, _ = run(capsys, "sessions", "revoke", handle, "--backend", f"{HERE}:BACKEND")
    assert code == 0 and handle in out
    assert BACKEND.by_user("revoke-user", time.time()) == []
    code, _, err = run(capsys, "sessions", "revoke", handle, "--backend", f"{HERE}:BACKEND")
    assert code == 1 and "no live session" in err


def test_revoke_all_of_a_user_but_one(capsys: pytest.CaptureFixture[str]) -> None:
    """``--user U --keep H`` ends every other session of U."""
    keep = sign_in(BACKEND, "many")
    sign_in(BACKEND, "many")
    sign_in(BACKEND, "many")
    code, out, _ = run(
        capsys,
        "sessions",
        "revoke",
        "--user",
        "many",
        "--keep",
        keep,
        "--backend",
        f"{HERE}:BACKEND",
    )
    assert code == 0 and "revoked 2 sessions" in out
    assert [r.handle for r in BACKEND.by_user("many", time.time())] == [keep]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["sessions", "revoke", "--backend", f"{HERE}:BACKEND"], id="neither"),
        pytest.param(
            ["sessions", "revoke", "h", "--user", "u", "--backend", f"{HERE}:BACKEND"], id="both"
        ),
        pytest.param(
            ["sessions", "revoke", "h", "--keep", "k", "--backend", f"{HERE}:BACKEND"], id="keep"
        ),
        pytest.param(["sessions", "list", "u", "--backend", "memory://"], id="memory"),
        pytest.param(["sessions", "list", "u", "--backend", "ftp://x"], id="scheme"),
        pytest.param(["sessions", "list", "u", "--backend", "nosuchmodule:x"], id="module"),
        pytest.param(["sessions", "list", "u", "--backend", f"{HERE}:SECRET"], id="not-a-store"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad arguments are one clear line on stderr and exit code 2."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("sessionware: error:") and "Traceback" not in err


def test_missing_required_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own errors also exit 2 with usage."""
    with pytest.raises(SystemExit) as exit_:
        main(["sessions", "list", "someone"])
    assert exit_.value.code == 2
    assert "--backend" in capsys.readouterr().err


def test_unreachable_store_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A store that is down gives exit 1 and a one-line message."""
    code, _, err = run(capsys, "sessions", "list", "u", "--backend", f"{HERE}:DOWN")
    assert code == 1 and "cannot reach the session store" in err and "Traceback" not in err
    code, _, err = run(capsys, "sessions", "revoke", "h", "--backend", f"{HERE}:DOWN")
    assert code == 1 and "cannot reach" in err


def test_unreachable_url_hides_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    """An unusable store URL fails with exit 1 and never echoes its password."""
    url = "redis://user:hunter2@127.0.0.1:1/0"
    code, _, err = run(capsys, "sessions", "list", "u", "--backend", url)
    assert code == 1
    assert "hunter2" not in err and "Traceback" not in err


def test_cleanup_sweeps_expired_memory_records(capsys: pytest.CaptureFixture[str]) -> None:
    """``cleanup`` removes expired records via the memory store's ``sweep``."""
    past = FakeClock(time.time() - 86400)
    sign_in(EXPIRED, "old", clock=past)
    sign_in(EXPIRED, "old", clock=past)
    code, out, _ = run(capsys, "cleanup", "--backend", f"{HERE}:EXPIRED")
    assert code == 0 and "removed 2 expired session records" in out
    assert EXPIRED._records == {}


def test_cleanup_calls_purge_expired_when_present(capsys: pytest.CaptureFixture[str]) -> None:
    """Stores with ``purge_expired`` (SQL) are purged through it, with ``--limit``."""
    code, out, _ = run(capsys, "cleanup", "--backend", f"{HERE}:PURGING", "--limit", "500")
    assert code == 0 and "removed 3 expired" in out
    assert PURGING.calls == [500]


def test_cleanup_on_a_self_expiring_store(capsys: pytest.CaptureFixture[str]) -> None:
    """Stores that expire by themselves (Redis TTL) need nothing; exit 0."""
    code, out, _ = run(capsys, "cleanup", "--backend", f"{HERE}:SELF_EXPIRING")
    assert code == 0 and "nothing to do" in out


def test_audit_passes_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """The default config passes at ASVS level 2; each line carries its requirement ID."""
    code, out, _ = run(capsys, "audit")
    assert code == 0
    assert "PASS  v4.0.3-3.4.1 v5.0.0-3.3.1" in out
    assert "0 failed" in out


@pytest.mark.parametrize(
    ("flags", "requirement"),
    [
        pytest.param(["--insecure", "--cookie-name", "sid"], "v4.0.3-3.4.1", id="secure"),
        pytest.param(["--no-http-only"], "v4.0.3-3.4.2", id="httponly"),
        pytest.param(["--cookie-name", "sid"], "v4.0.3-3.4.4", id="prefix"),
        pytest.param(["--idle-timeout", "3600"], "v5.0.0-7.3.1", id="idle"),
        pytest.param(
            ["--absolute-timeout", "86400", "--idle-timeout", "600"], "v5.0.0-7.3.2", id="absolute"
        ),
    ],
)
def test_audit_fails_unsafe_flags(
    flags: list[str], requirement: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unsafe setting is a FAIL line naming its ASVS ID, and exit 1."""
    code, out, _ = run(capsys, "audit", *flags)
    assert code == 1
    assert any(line.startswith("FAIL") and requirement in line for line in out.splitlines())


def test_audit_level_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    """Level 3 demands a 15-minute idle limit; ``--strict`` fails on warnings."""
    assert run(capsys, "audit", "--level", "3")[0] == 1
    assert run(capsys, "audit", "--level", "3", "--idle-timeout", "900")[0] == 0
    assert run(capsys, "audit", "--strict")[0] == 1


def test_audit_flags_weak_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A placeholder-looking secret read from the environment fails the audit."""
    monkeypatch.setenv("APP_SECRET", "changeme-changeme-changeme-changeme")
    code, out, _ = run(capsys, "audit", "--secret-env", "APP_SECRET")
    assert code == 1 and "secret_keys[0]" in out


STARLETTE_APP = Starlette()
STARLETTE_APP.add_middleware(SessionMiddleware, secret_key=SECRET, https_only=False)
FLASK_APP = flask.Flask("audited")
FLASK_APP.config["SECRET_KEY"] = SECRET
Sessionware(FLASK_APP)
CONFIG = SessionConfig(secret_keys=[secrets.token_hex(32)])


def make_config() -> SessionConfig:
    return CONFIG


@pytest.mark.parametrize(
    ("target", "code"),
    [
        pytest.param("STARLETTE_APP", 1, id="starlette-app"),
        pytest.param("FLASK_APP", 1, id="flask-app"),  # the Flask profile relaxes limits (#14)
        pytest.param("CONFIG", 0, id="config"),
        pytest.param("make_config", 0, id="factory"),
    ],
)
def test_audit_reads_a_config_from_code(
    target: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """``audit module:attribute`` finds the config in an app, middleware, config or factory."""
    result, out, _ = run(capsys, "audit", f"{HERE}:{target}")
    assert result == code, out
    if target == "STARLETTE_APP":
        assert "Secure when the request arrived over HTTPS" in out


def test_audit_target_without_sessions_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Pointing audit at something without a sessionware config exits 2."""
    code, _, err = run(capsys, "audit", f"{HERE}:HERE")
    assert code == 2 and "no sessionware configuration" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_refuses_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    """A port already in use is a one-line error, not a server traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(capsys, "demo", "--port", str(port))
    assert code == 1 and "cannot listen" in err


@pytest.mark.slow
def test_demo_serves_the_app() -> None:
    """``python -m sessionware demo`` serves the sign-in page on the chosen port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionware", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert f"http://localhost:{port}" in proc.stdout.readline()
        for _ in range(100):
            try:
                page = httpx.get(f"http://localhost:{port}/")
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        else:
            pytest.fail("the demo did not start")
        assert page.status_code == 200 and "Sign in" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_audit_reports_how_forwarding_headers_are_treated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without trusted_proxies the audit says forwarding headers are ignored, and what to set."""
    code, out, _ = run(capsys, "audit")
    assert code == 0
    line = next(line for line in out.splitlines() if "trusted_proxies" in line)
    assert line.startswith("INFO") and "FX-08" in line
