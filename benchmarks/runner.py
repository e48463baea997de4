"""Run the benchmarks: ``run(quick=True, only=None, full=False, out_dir=".")``.

This is the entry point for both ``python -m benchmarks`` and the
``sessionware bench`` CLI command (which imports ``benchmarks.runner`` from
a source checkout; the benchmarks are not part of the installed package).

Sections: ``inprocess`` (µs per request, ratio to the bare app),
``roundtrips`` (Redis / SQL round trips per request kind), ``http``
(uvicorn / waitress under wrk), ``scale`` (memory backend at 1 k ... 1 M
sessions), ``tokens`` and ``guard`` (when those modules exist) and
``import`` (import time of sessionware).  The quick run (the default) takes
about a minute; ``full`` runs every contender and case with longer
samples, three HTTP repeats and the 1 M-session step.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from . import contenders as registry
from . import extras, imports, inprocess, overhttp, report, roundtrips, scale, stores, targets
from .contenders import CONTENDERS, FLOORS, Contender, Env, unavailable

SECTIONS = ("inprocess", "roundtrips", "http", "scale", "tokens", "guard", "stores", "import")
QUICK_HTTP = ("starlette", "sessionware-memory", "flask", "sessionware-wsgi-memory")


def _terms(only: str | Iterable[str] | None) -> list[str]:
    if only is None:
        return []
    items = only.split(",") if isinstance(only, str) else list(only)
    return [t.strip().lower() for item in items for t in item.split(",") if t.strip()]


def select(quick: bool, only: str | Iterable[str] | None) -> tuple[list[str], list[Contender]]:
    """Sections and contenders for a run; floors ride along whenever their protocol runs."""
    terms = _terms(only)
    sections = [s for s in SECTIONS if s in terms] or list(SECTIONS)
    names = [t for t in terms if t not in SECTIONS]
    chosen = [
        c
        for c in CONTENDERS
        if (not quick or c.quick or names) and (not names or any(t in c.name for t in names))
    ]
    protocols = {c.protocol for c in chosen}
    floors = [
        c for c in CONTENDERS if c.family == "floor" and c.protocol in protocols and c not in chosen
    ]
    return sections, floors + chosen


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    versions = {}
    for module in (
        "starlette",
        "flask",
        "werkzeug",
        "starsessions",
        "flask_session",
        "redis",
        "sqlalchemy",
        "uvicorn",
        "waitress",
        "itsdangerous",
    ):
        try:
            from importlib.metadata import version

            versions[module] = version(module.replace("_", "-"))
        except Exception:  # not installed
            versions[module] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=overhttp.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
        "load_start": round(os.getloadavg()[0], 2),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


class _Discard(logging.Handler):
    """Formats each log record like a file handler would, then drops it.

    Security events are logged on every forged cookie; formatting them is
    part of their real cost, printing thousands of lines to the terminal is not.
    """

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Route sessionware's loggers to :class:`_Discard` while benchmarks run."""
    loggers = [logging.getLogger(name) for name in ("sessionware", "sessionware.security")]
    saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers = [_Discard()]
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate


def _summarise(cells: dict[str, dict[str, inprocess.Cell]], floor: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = cells.get(floor, {})
    for name, row in cells.items():
        out[name] = {}
        for case, cell in row.items():
            floor_cell = base.get(case)
            over, q1, q3 = cell.over(floor_cell) if floor_cell else (None, None, None)
            out[name][case] = {
                "median_us": cell.median,
                "min_us": min(cell.samples),
                "samples": [round(s, 3) for s in cell.samples],
                "n": cell.n,
                "ratio": cell.median / floor_cell.median if floor_cell else None,
                "overhead_us": over,
                "overhead_q1_us": q1,
                "overhead_q3_us": q3,
            }
            if cell.problem:
                out[name][case]["problem"] = cell.problem
    return out


def run(
    quick: bool = True,
    only: str | Iterable[str] | None = None,
    full: bool = False,
    out_dir: str | os.PathLike[str] = ".",
    *,
    stream: IO[str] | None = None,
) -> dict[str, Any]:
    """Run the benchmarks, print the tables and targets, write bench.json and bench.png.

    :param quick: the ~1 minute subset (ignored when ``full``).
    :param only: comma-separated section names and/or contender name fragments
        (``"inprocess,redis"``: the in-process section, contenders with "redis" in
        their name, plus the bare apps they are compared with).
    :param full: every contender and case, longer samples, 1 M sessions.
    :param out_dir: where bench.json and bench.png go.
    :returns: the results (the same data as bench.json).
    """
    quick = quick and not full
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stream = stream if stream is not None else sys.stdout
    sections, chosen = select(quick, only)
    env = Env()
    progress = report.Progress()
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "meta": machine(),
        "skipped": {},
    }
    runnable = []
    for contender in chosen:
        reason = unavailable(contender, env)
        if reason:
            results["skipped"][contender.name] = reason
        else:
            runnable.append(contender)
    try:
        with quiet_logs():
            _run_sections(results, sections, runnable, env, quick, progress)
    finally:
        progress.close()
        registry.purge(env, {c.store for c in runnable})
    results["meta"]["load_end"] = round(os.getloadavg()[0], 2)
    results["targets"] = targets.evaluate(results)
    stream.write(report.text(results))
    report.write_json(results, out / "bench.json")
    if report.chart(results, out / "bench.png"):
        stream.write(f"wrote {out / 'bench.json'} and {out / 'bench.png'}\n")
    else:
        stream.write(f"wrote {out / 'bench.json'} (no chart: install matplotlib, extra 'bench')\n")
    return results


def _run_sections(
    results: dict[str, Any],
    sections: list[str],
    runnable: list[Contender],
    env: Env,
    quick: bool,
    progress: report.Progress,
) -> None:
    cases = inprocess.QUICK_CASES if quick else inprocess.FULL_CASES
    repeats, block_s = (5, 0.02) if quick else (7, 0.1)
    if "inprocess" in sections or "roundtrips" in sections:
        loop = asyncio.new_event_loop()
        prepared: list[inprocess.Prepared] = []
        try:
            for contender in runnable:
                try:
                    prepared.append(inprocess.prepare(contender, env, loop))
                except Exception as exc:  # a broken contender must not sink the run
                    results["skipped"][contender.name] = f"failed to prepare: {exc!r}"[:300]
            if "inprocess" in sections:
                results["inprocess"] = {}
                for protocol in ("asgi", "wsgi"):
                    group = [p for p in prepared if p.contender.protocol == protocol]
                    if not any(p.contender.family == "floor" for p in group):
                        continue
                    progress.add(len(group) * len(cases) + repeats * len(cases))
                    cells = inprocess.measure(
                        group, cases, repeats=repeats, block_s=block_s, tick=progress.tick
                    )
                    results["inprocess"][protocol] = _summarise(cells, FLOORS[protocol])
            if "roundtrips" in sections:
                progress.add(1)
                results["roundtrips"] = roundtrips.measure(prepared, cases)
                progress.tick("round trips")
        finally:
            for p in prepared:
                try:
                    inprocess.release(p, loop)
                except Exception as exc:
                    results["skipped"].setdefault(p.contender.name + " cleanup", repr(exc)[:200])
            loop.close()
    if "http" in sections:
        _run_http(results, runnable, env, quick, progress)
    if "scale" in sections:
        sizes = [1_000, 100_000] if quick else [1_000, 100_000, 1_000_000]
        progress.add(1)
        results["scale"] = scale.run(sizes)
        progress.tick("scale")
    measures = (("tokens", extras.tokens), ("guard", extras.guard), ("stores", stores.measure))
    for name, function in measures:
        if name in sections:
            progress.add(1)
            data, reason = function(quick)
            if data is not None:
                results[name] = data
            elif reason:
                results["skipped"][name] = reason
            progress.tick(name)
    if "import" in sections:
        progress.add(1)
        results["import"] = imports.measure(runs=5 if quick else 11)
        progress.tick("import time")


def _run_http(
    results: dict[str, Any],
    runnable: list[Contender],
    env: Env,
    quick: bool,
    progress: report.Progress,
) -> None:
    chosen = [c for c in runnable if not quick or c.name in QUICK_HTTP]
    cases = ["read"] if quick else ["read", "write", "none-anon"]
    seconds, repeats = (2.0, 1) if quick else (5.0, 3)
    results["http"] = {}
    for protocol in ("asgi", "wsgi"):
        group = [c for c in chosen if c.protocol == protocol]
        if not any(c.family == "floor" for c in group):
            continue
        servers = []
        try:
            for contender in group:
                try:
                    servers.append(overhttp.start(contender, env))
                except Exception as exc:
                    results["skipped"][f"{contender.name} (http)"] = repr(exc)[:300]
            progress.add(len(servers) * len(cases) * repeats)
            cells = overhttp.measure(
                servers,
                cases,
                seconds=seconds,
                repeats=repeats,
                warm_s=0.0 if quick else 1.0,
                tick=progress.tick,
            )
        finally:
            for server in servers:
                overhttp.stop(server)
        floor = cells.get(FLOORS[protocol], {})
        for name, row in cells.items():
            results["http"][name] = {}
            for case, cell in row.items():
                summary = cell.summary()
                bare = floor[case].summary()["rps"] if case in floor else None
                summary["rps_ratio"] = summary["rps"] / bare if bare else None
                results["http"][name][case] = summary
