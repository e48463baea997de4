"""The benchmark harness keeps working (tiny counts, no timing asserts)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmarks import overhttp, report, targets
from benchmarks.contenders import Env, by_name
from benchmarks.inprocess import measure, prepare, release
from benchmarks.runner import _summarise, select


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize(
    ("floor", "ours"),
    [
        pytest.param("starlette", "sessionware-memory", id="asgi"),
        pytest.param("flask", "sessionware-wsgi-memory", id="wsgi"),
    ],
)
def test_in_process_harness_times_floor_and_sessionware(loop, floor: str, ours: str) -> None:
    """Both contenders seed a session, pass the read check and yield samples and ratios."""
    env = Env()
    prepared = [prepare(by_name(floor), env, loop), prepare(by_name(ours), env, loop)]
    try:
        cells = measure(prepared, ["read", "none-anon"], repeats=2, block_s=0.001)
    finally:
        for p in prepared:
            release(p, loop)
    summary = _summarise(cells, floor)
    assert set(summary) == {floor, ours}
    for row in summary.values():
        for cell in row.values():
            assert len(cell["samples"]) == 2
            assert cell["median_us"] > 0
    assert summary[floor]["read"]["ratio"] == 1.0
    protocol = "asgi" if floor == "starlette" else "wsgi"
    text = report.inprocess_text({"inprocess": {protocol: summary}})
    assert ours in text


def test_targets_and_report_render_from_partial_results(tmp_path: Path) -> None:
    """Unmeasured targets read "not measured" and the JSON round-trips."""
    results = {"mode": "quick", "meta": {}, "skipped": {"x": "module y is not available"}}
    results["targets"] = targets.evaluate(results)
    assert all(t["met"] is None for t in results["targets"])
    assert "not measured" in report.text(results)
    report.write_json(results, tmp_path / "bench.json")
    assert json.loads((tmp_path / "bench.json").read_text())["skipped"] == results["skipped"]


def test_wrk_output_is_parsed() -> None:
    """Requests/s, p50, p99 and error counts come out of wrk's --latency report."""
    output = """Running 2s test @ http://127.0.0.1:8000/read
  1 threads and 8 connections
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.50ms
     99%    3.20ms
  9000 requests in 2.00s, 1.20MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   4500.12
"""
    load = overhttp.parse_wrk(output)
    assert (load.rps, load.p50_ms, load.p99_ms, load.errors) == (4500.12, 0.812, 3.2, 3)


def test_only_filter_keeps_the_floor_of_each_protocol() -> None:
    """Selecting a contender by name fragment brings its bare app along for the ratios."""
    sections, chosen = select(quick=True, only="inprocess,flask-cookie")
    assert sections == ["inprocess"]
    assert [c.name for c in chosen] == ["flask", "flask-cookie"]


def test_floor_targets_judge_overhead_ratios_and_round_trips() -> None:
    """#16's verdicts come from the run's own figures; what was not measured stays None."""
    from benchmarks import floor_targets

    def cell(median: float, overhead: float) -> dict[str, float]:
        return {"median_us": median, "overhead_us": overhead}

    results = {
        "inprocess": {
            "asgi": {
                "starlette": {"none-anon": cell(10.0, 0.0)},
                "starlette-session": {"read": cell(26.0, 16.0), "write": cell(35.0, 25.0)},
                "sessionware-memory": {
                    "read": cell(16.0, 6.0),  # 6 / 16 = 0.375: met
                    "write": cell(25.0, 16.0),  # 16 / 25 = 0.64: not met
                    "none-anon": cell(12.0, 2.0),  # 12 / 10 = 1.2: not met
                },
            }
        },
        "roundtrips": {"sessionware-redis": {"read": {"round_trips": 1.0}}},
    }
    verdicts = {v["target"]: v for v in floor_targets.evaluate(results)}
    read = verdicts["ASGI memory read overhead <= 0.4 x Starlette cookie session's"]
    assert read["value"] == pytest.approx(0.375) and read["met"] is True
    write = verdicts["ASGI memory write overhead <= 0.6 x Starlette cookie session's"]
    assert write["value"] == pytest.approx(0.64) and write["met"] is False
    anon = verdicts["ASGI request without cookie <= 1.15 x the bare app's time"]
    assert anon["value"] == pytest.approx(1.2) and anon["met"] is False
    assert verdicts["Redis read = 1 round trip"]["met"] is True
    assert verdicts["WSGI memory read overhead <= 0.4 x Flask cookie session's"]["met"] is None
    http = verdicts["HTTP /read >= 0.7 x bare app's requests/s (sessionware-memory)"]
    assert http["met"] is None
