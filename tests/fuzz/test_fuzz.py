"""Short atheris runs of both harnesses, so CI fuzzes on every change.

Each harness runs ~15 s in a subprocess (libFuzzer owns the process) with
the checked-in corpus copied into ``tmp_path``.  With
``SESSIONWARE_FUZZ_KEEP=1`` the run's new inputs are merged back into
``tests/fuzz/corpus/`` (libFuzzer ``-merge=1`` keeps only inputs that add
coverage), so a longer local run grows the corpus the next CI run starts from.  A crash, an
uncaught exception or a failed assertion in a harness makes libFuzzer exit
non-zero and this test fail with the harness's own report.  Longer runs:
tests/fuzz/README.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci import in_ci

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SECONDS = int(os.environ.get("SESSIONWARE_FUZZ_SECONDS", "15"))


def _need_atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail("CI=true and atheris is not installed (pip install -e '.[dev]')")
        pytest.skip("!!! atheris is not installed: the fuzz harnesses did not run")


@pytest.mark.slow
@pytest.mark.parametrize(
    "harness",
    [
        pytest.param("fuzz_cookies", id="cookies"),
        pytest.param("fuzz_tokens", id="tokens"),
    ],
)
def test_fuzz_harness_finds_nothing(harness: str, tmp_path: Path) -> None:
    """A short coverage-guided run of the harness ends without a finding."""
    _need_atheris()
    corpus = tmp_path / "corpus"
    shutil.copytree(HERE / "corpus" / harness.removeprefix("fuzz_"), corpus)
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / f"{harness}.py"),
            f"-max_total_time={SECONDS}",
            "-timeout=10",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=SECONDS + 120,
    )
    report = proc.stderr[-4000:]
    assert proc.returncode == 0, f"{harness} found something:\n{report}"
    assert "Done " in proc.stderr, report
    assert not list(tmp_path.glob("crash-*")), report
    if os.environ.get("SESSIONWARE_FUZZ_KEEP") == "1":
        _merge_back(harness, corpus, env, tmp_path)


def _merge_back(harness: str, corpus: Path, env: dict[str, str], cwd: Path) -> None:
    """Merge the inputs this run found into the checked-in corpus (coverage-minimised)."""
    kept = HERE / "corpus" / harness.removeprefix("fuzz_")
    proc = subprocess.run(
        [sys.executable, str(HERE / f"{harness}.py"), "-merge=1", str(kept), str(corpus)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
