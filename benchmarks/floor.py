"""Issue #16's memory and WSGI rows in one run: ``python -m benchmarks.floor``.

Reproduces the table of "Performance at the floor" for the memory backend
and the WSGI stacks, with every figure of a ratio measured in the same run:

* in-process µs per request (medians of interleaved samples, the harness of
  :mod:`benchmarks.inprocess`): sessionware (eager and ``load="lazy"``),
  starsessions, Starlette's cookie session and the bare Starlette app; on
  WSGI sessionware's middleware and Flask integration, Flask's cookie session,
  Flask-Session on Redis (and sessionware on Redis beside it) and bare Flask;
* requests/s over HTTP (uvicorn, loaded by ``wrk``) for ``/read`` and for a
  request that carries the cookie and never touches the session (``/none``);
* RSS per small live session in the memory backend from 100 k to 1 M sessions
  (:mod:`benchmarks.scale`, in a child process).

It prints the table and the issue's targets (met / not met; never asserted)
and writes ``floor.json``, ``floor.txt`` and ``floor.png`` to ``--out``
(default ``benchmarks/results/``).  ``--quick`` runs shorter samples and
stops the scale test at 300 k (a smoke run, not for the issue's note).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from . import inprocess, overhttp, report, scale
from .contenders import FLOORS, Env, by_name, unavailable
from .runner import _summarise, machine, quiet_logs

ASGI = (
    "starlette",
    "starlette-session",
    "starsessions-memory",
    "sessionware-memory",
    "sessionware-memory-lazy",
)
WSGI = (
    "flask",
    "flask-cookie",
    "flask-session-redis",
    "sessionware-wsgi-memory",
    "sessionware-flask-memory",
    "sessionware-wsgi-redis",
)
CASES = ("read", "write", "none", "none-anon")
HTTP_CASES = ("read", "none")
RESULTS = Path(__file__).resolve().parent / "results"


def _overhead(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = results["inprocess"].get(protocol, {}).get(name, {}).get(case)
    return None if cell is None else float(cell["overhead_us"])


def _median(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = results["inprocess"].get(protocol, {}).get(name, {}).get(case)
    return None if cell is None else float(cell["median_us"])


def _rps_ratio(results: dict[str, Any], name: str, case: str) -> float | None:
    value = results.get("http", {}).get(name, {}).get(case, {}).get("rps_ratio")
    return None if value is None else float(value)


def _verdict(text: str, value: float | None, limit: float, at_most: bool) -> dict[str, Any]:
    met = None if value is None else (value <= limit if at_most else value >= limit)
    return {"target": text, "value": value, "limit": limit, "met": met}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's memory, WSGI and lazy-loading targets, judged on this run."""

    def ratio(protocol: str, ours: str, peer: str, case: str) -> float | None:
        mine, theirs = (_overhead(results, protocol, n, case) for n in (ours, peer))
        return None if mine is None or not theirs else mine / theirs

    bare = _median(results, "asgi", "starlette", "none-anon")
    anon = _median(results, "asgi", "sessionware-memory", "none-anon")
    steps = results.get("scale") or {}
    last = steps[max(steps, key=int)] if steps else {}
    per_session = last.get("rss_per_session")
    out = [
        _verdict(
            "ASGI memory read overhead <= 0.4 x Starlette cookie session's",
            ratio("asgi", "sessionware-memory", "starlette-session", "read"),
            0.4,
            True,
        ),
        _verdict(
            "ASGI memory write overhead <= 0.6 x Starlette cookie session's",
            ratio("asgi", "sessionware-memory", "starlette-session", "write"),
            0.6,
            True,
        ),
        _verdict(
            "ASGI request without cookie <= 1.15 x the bare app's time",
            None if bare is None or anon is None else anon / bare,
            1.15,
            True,
        ),
        _verdict(
            "WSGI memory read overhead <= 0.4 x Flask cookie session's",
            ratio("wsgi", "sessionware-wsgi-memory", "flask-cookie", "read"),
            0.4,
            True,
        ),
        _verdict(
            "WSGI untouched request with cookie (Redis) <= 0.1 x Flask-Session-redis's overhead",
            ratio("wsgi", "sessionware-wsgi-redis", "flask-session-redis", "none"),
            0.1,
            True,
        ),
        _verdict(
            "HTTP /read >= 0.7 x bare app's requests/s (sessionware-memory)",
            _rps_ratio(results, "sessionware-memory", "read"),
            0.7,
            False,
        ),
        _verdict(
            "HTTP untouched with cookie >= 0.8 x bare (sessionware-memory, eager)",
            _rps_ratio(results, "sessionware-memory", "none"),
            0.8,
            False,
        ),
        _verdict(
            "HTTP untouched with cookie >= 0.8 x bare (sessionware-memory-lazy)",
            _rps_ratio(results, "sessionware-memory-lazy", "none"),
            0.8,
            False,
        ),
        _verdict(
            f"memory backend RSS per small session ({last.get('from', 0):,} -> "
            f"{last.get('sessions', 0):,}) <= 700 B",
            None if per_session is None else float(per_session),
            700,
            True,
        ),
    ]
    return out


def text(results: dict[str, Any]) -> str:
    lines = [
        "sessionware #16 floor table on {cpu} x{cpus}, Python {python}, load {load}".format(
            cpu=results["meta"].get("cpu"),
            cpus=results["meta"].get("cpus"),
            python=results["meta"].get("python"),
            load=results["meta"].get("load_start"),
        ),
        "",
        report.inprocess_text(results).rstrip(),
        "",
    ]
    if results.get("http"):
        lines += [report.http_text(results).rstrip(), ""]
    if results.get("scale"):
        lines += [report.scale_text(results).rstrip(), ""]
    lines.append("Targets (issue #16, memory / WSGI / lazy loading)")
    for target in results["targets"]:
        state = {True: "MET    ", False: "NOT MET", None: "n/a    "}[target["met"]]
        value = target["value"]
        shown = "not measured" if value is None else f"{value:.3g} (limit {target['limit']})"
        lines.append(f"  {state} {target['target']}: {shown}")
    for name, reason in results.get("skipped", {}).items():
        lines.append(f"skipped {name}: {reason}")
    return "\n".join(lines) + "\n"


def run(
    quick: bool, out_dir: Path, http: bool = True, sizes: list[int] | None = None
) -> dict[str, Any]:
    """Measure everything, print the table and targets, write floor.json/.txt/.png."""
    env = Env()
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "meta": machine()}
    results["skipped"] = {}
    repeats, block_s = (5, 0.02) if quick else (9, 0.05)
    loop = asyncio.new_event_loop()
    stores = set()
    try:
        with quiet_logs():
            results["inprocess"] = {}
            for protocol, names in (("asgi", ASGI), ("wsgi", WSGI)):
                prepared = []
                for name in names:
                    contender = by_name(name)
                    reason = unavailable(contender, env)
                    if reason:
                        results["skipped"][name] = reason
                        continue
                    stores.add(contender.store)
                    prepared.append(inprocess.prepare(contender, env, loop))
                try:
                    cells = inprocess.measure(prepared, CASES, repeats=repeats, block_s=block_s)
                finally:
                    for p in prepared:
                        inprocess.release(p, loop)
                results["inprocess"][protocol] = _summarise(cells, FLOORS[protocol])
            if http:
                results["http"] = _http(env, quick, results)
    finally:
        loop.close()
        from .contenders import purge

        purge(env, stores)
    if sizes is None:
        sizes = [100_000, 300_000] if quick else [100_000, 1_000_000]
    results["scale"] = scale.run(sizes, repeats=3, block_s=0.02, timeout=1200)
    results["meta"]["load_end"] = round(os.getloadavg()[0], 2)
    results["targets"] = targets(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = text(results)
    sys.stdout.write(body)
    (out_dir / "floor.txt").write_text(body)
    report.write_json(results, out_dir / "floor.json")
    report.chart(results, out_dir / "floor.png")
    return results


def _http(env: Env, quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    servers = []
    try:
        for name in ASGI:
            contender = by_name(name)
            if unavailable(contender, env) is None:
                servers.append(overhttp.start(contender, env))
        seconds, repeats = (1.5, 1) if quick else (3.0, 3)
        cells = overhttp.measure(
            servers, HTTP_CASES, seconds=seconds, repeats=repeats, warm_s=0.0 if quick else 1.0
        )
    finally:
        for server in servers:
            overhttp.stop(server)
    table: dict[str, Any] = {}
    floor = cells.get("starlette", {})
    for name, row in cells.items():
        table[name] = {}
        for case, cell in row.items():
            summary = cell.summary()
            bare = floor[case].summary()["rps"] if case in floor else None
            summary["rps_ratio"] = summary["rps"] / bare if bare else None
            table[name][case] = summary
    tool, _ = overhttp.load_tool()
    results["meta"]["http_tool"] = tool
    return table


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short samples, scale to 300 k")
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn + wrk part")
    parser.add_argument("--out", default=str(RESULTS), help="directory for floor.json/.txt/.png")
    args = parser.parse_args(argv)
    run(args.quick, Path(args.out), http=not args.no_http)


if __name__ == "__main__":
    main(sys.argv[1:])
