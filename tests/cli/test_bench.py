"""``sessionware bench``: the user's own per-request cost, from the package alone."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from sessionware.backends import MemoryBackend
from sessionware.cli import bench
from sessionware.cli.command import main
from sessionware.testing import CountingBackend

ROOT = Path(__file__).resolve().parents[2]


def test_run_measures_every_case_on_both_faces() -> None:
    """Each face gets a read, a write and an untouched row, with a bare time beside it."""
    results = bench.run(MemoryBackend(), rounds=2, batch=5, progress=None)
    assert [(r.face, r.case) for r in results] == [
        (face, case) for face in ("asgi", "wsgi") for case in bench.CASES
    ]
    assert all(r.bare_us > 0 for r in results)


def test_the_cases_do_what_their_names_say() -> None:
    """Write cases write, read and untouched cases never do (the numbers mean what they say)."""
    counting = CountingBackend(MemoryBackend())
    bench.run(counting, faces=("asgi",), rounds=2, batch=5, progress=None)
    # One write to set up, then 2 rounds x 5 requests of the write case; touches excluded.
    assert counting.calls["apply"] == 1 + 2 * 5


def test_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The command's summary names the store and has one row per face and case."""
    assert main(["bench", "--backend", "memory://", "--rounds", "2", "--batch", "3"]) == 0
    out = capsys.readouterr().out
    assert "memory://" in out
    rows = [line for line in out.splitlines() if line.startswith(("asgi", "wsgi"))]
    assert len(rows) == 6


def test_command_refuses_a_store_it_cannot_reach(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable Redis is one clear line and exit 1, not a table of 503s."""
    pytest.importorskip("redis")
    code = main(["bench", "--backend", "redis://127.0.0.1:1/0", "--rounds", "1", "--batch", "1"])
    assert code == 1
    assert "redis://127.0.0.1:1/0" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_works_from_an_installed_wheel(tmp_path: Path) -> None:
    """Built wheel, fresh venv, no checkout on the path: ``sessionware bench`` prints its table."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
    )
    wheel = next(dist.glob("sessionware-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run(
        [str(env_dir / "bin" / "sessionware"), "bench", "--backend", "memory",
         "--rounds", "2", "--batch", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "asgi  write" in result.stdout and "wsgi  untouched" in result.stdout
