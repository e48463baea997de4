"""The default store says what it is: a warning when MemoryBackend serves one of several workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sessionware import MemoryBackend, SessionConfig
from sessionware.cli.audit import audit
from sessionware.deployment import worker_count

from .conftest import SECRET


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["uvicorn", "app:app", "--workers", "4"], {}, 4),
        (["uvicorn", "app:app", "--workers=3"], {}, 3),
        (["gunicorn", "-w", "2", "app:app"], {}, 2),
        (["gunicorn", "-w8", "app:app"], {}, 8),
        (["gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "--workers 5"}, 5),
        (["uvicorn", "app:app"], {"WEB_CONCURRENCY": "6"}, 6),
        (["uvicorn", "app:app"], {}, None),
    ],
)
def test_worker_count(argv: list[str], environ: dict[str, str], expected: int | None) -> None:
    """gunicorn's and uvicorn's ways of asking for workers are all read."""
    assert worker_count(argv, environ) == expected


def test_audit_warns_about_memory_with_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sessionware audit`` warns when MemoryBackend meets several workers."""
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    findings = audit(SessionConfig(secret_keys=[SECRET]), backend=type(MemoryBackend()).__name__)
    (memory,) = [f for f in findings if "MemoryBackend" in f.message]
    assert memory.status == "WARN" and "4 workers" in memory.message


def test_uvicorn_workers_warn_once_each(tmp_path: Path) -> None:
    """Under ``uvicorn --workers 2`` each worker logs the MemoryBackend warning at startup."""
    (tmp_path / "memapp.py").write_text(
        textwrap.dedent(
            f"""
            from starlette.applications import Starlette
            from sessionware import SessionMiddleware

            app = SessionMiddleware(Starlette(), secret_keys=[{SECRET!r}])
            """
        )
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{tmp_path}:{root}", "PATH": os.environ.get("PATH", "/usr/bin")}
    log_path = tmp_path / "stderr.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "memapp:app", "--workers", "2", "--port", "0"],
            cwd=tmp_path,
            env=env,
            stderr=log_file,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while log_path.read_text().count("runs 2 workers") < 2:
                if time.monotonic() > deadline or proc.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    seen = log_path.read_text()
    assert seen.count("runs 2 workers") == 2, seen
