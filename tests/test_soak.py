"""The load-and-fault soak, short: correctness under load while Redis restarts.

``benchmarks/soak.py`` serves a real app under uvicorn on RedisBackend,
drives concurrent virtual users (cookie and token sessions) and stops its
own private redis-server midway.  Here it runs for about a minute and only
the correctness properties are asserted, never timings (house rule 14):
no 5xx but 503, 503 only inside the outage window, no unexplained 401, no
lost write acknowledged after recovery, no signed-out cookie that still
works, no server traceback.  docs/soak.md has the figures of a long run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.ci import in_ci

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SECONDS = float(os.environ.get("SESSIONWARE_SOAK_SECONDS", "60"))


@pytest.fixture(scope="module")
def soak():  # the benchmark modules, importable by name as when run as a script
    if shutil.which("redis-server") is None:
        if in_ci():
            pytest.fail("CI=true and redis-server is not installed")
        pytest.skip("!!! redis-server is not installed: the soak did not run")
    sys.path.insert(0, str(BENCH))
    try:
        import soak

        yield soak
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.slow
@pytest.mark.redis
def test_soak_with_a_redis_restart_keeps_every_acknowledged_write(soak) -> None:
    """A minute of load with a 4 s Redis outage: only the expected failures, no lost writes."""
    report = soak.run(soak.Options(duration=SECONDS, users=12, outage_seconds=4.0))
    assert soak.check(report) == [], report
    statuses = report["statuses"]
    assert not [s for s in statuses if s.startswith("5") and s != "503"], statuses
    assert statuses.get("503", 0) > 0, "the outage was not observed: the fault path went untested"
    assert report["failures"] == {}, report["failure_examples"]
    writes = report["writes"]
    assert writes["lost"] == 0
    assert writes["acknowledged_after_recovery"] > 0
    assert writes["read_back"] + writes["excused_outage"] == writes["acknowledged"]
    assert report["sessions"]["signed_out_replays_refused"] > 0
    assert report["server_tracebacks"] == 0
