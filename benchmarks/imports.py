"""Import time of ``sessionware``, as a cold ``python -c "import sessionware"`` pays it.

Three figures: the wall-clock and the CPU-time (user + system, from
``getrusage``; steadier on a busy machine) differences between ``python -c
"import sessionware"`` and ``python -c pass`` (medians of interleaved runs;
what a CLI or a serverless cold start feels), and the cumulative time
``-X importtime`` attributes to the ``sessionware`` package, with the
slowest modules it pulls in.
"""

from __future__ import annotations

import atexit
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


_CACHE = tempfile.mkdtemp(prefix="sw-bench-pycache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def _environ() -> dict[str, str]:
    """The child's environment: our checkout first, bytecode cached (in a temp dir).

    A user's interpreter reuses ``.pyc`` files; timing source compilation
    (``PYTHONDONTWRITEBYTECODE`` set in some sandboxes) would count work a
    real start-up does not repeat.
    """
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    environ["PYTHONPYCACHEPREFIX"] = _CACHE
    return environ


def _run(code: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_environ(), cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(module: str = "sessionware", runs: int = 7) -> dict[str, Any]:
    """Wall and ``-X importtime`` figures for importing ``module`` in a fresh interpreter."""
    _run(f"import {module}")  # fill the bytecode cache
    with_import, bare = [], []
    for _ in range(runs):
        with_import.append(_run(f"import {module}"))
        bare.append(_run("pass"))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=_environ(),
        cwd=ROOT,
    )
    cumulative = 0
    modules: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        own, total, _, name = (
            int(match.group(1)),
            int(match.group(2)),
            match.group(3),
            match.group(4),
        )
        modules.append((own, name))
        if name == module:
            cumulative = total
    modules.sort(reverse=True)
    return {
        "wall_ms": (
            statistics.median(w for w, _ in with_import) - statistics.median(w for w, _ in bare)
        )
        * 1000,
        "cpu_ms": (
            statistics.median(c for _, c in with_import) - statistics.median(c for _, c in bare)
        )
        * 1000,
        "python_startup_ms": statistics.median(w for w, _ in bare) * 1000,
        "importtime_ms": cumulative / 1000,
        "slowest": [{"module": name, "self_ms": own / 1000} for own, name in modules[:6]],
    }
