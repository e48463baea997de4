"""Every row of issue #16's table in one run: ``python -m benchmarks.floor``.

Reproduces "Performance at the floor" with every figure of a ratio measured
in the same run:

* in-process µs per request (medians of interleaved samples, the harness of
  :mod:`benchmarks.inprocess`).  ASGI: the bare Starlette app, Starlette's
  cookie session, starsessions (memory and Redis), the bare ``redis.asyncio``
  floor (one GET, one SET) and sessionware on memory and Redis, each eager
  and ``load="lazy"``, and on Redis with ``client_cache``.  WSGI: bare Flask,
  Flask's cookie session, Flask-Session on Redis, the bare blocking-``redis``
  floor, sessionware's middleware (memory, Redis) and its Flask integration;
* round trips per request where they happen (Redis, and PostgreSQL counted
  from libpq's trace), split into the load and the commit;
* the Redis client's own cost: ``aload`` against a bare GET of the same
  bytes on one client, the cached read, and the invalidation delivery delay
  (:mod:`benchmarks.stores`);
* requests/s over HTTP (uvicorn, loaded by ``wrk``) for ``/read`` and for a
  request that carries the cookie and never touches the session (``/none``);
* RSS per small live session in the memory backend from 100 k to 1 M sessions
  (:mod:`benchmarks.scale`, in a child process).

It prints the table and every target of the issue (met / not met, from
:mod:`benchmarks.floor_targets`; never asserted) and writes ``floor.json``,
``floor.txt`` and ``floor.png`` to ``--out`` (default
``benchmarks/results/``).  ``--quick`` runs shorter samples and stops the
scale test at 300 k (a smoke run, not for the issue's note).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from . import inprocess, overhttp, report, roundtrips, scale, stores
from .contenders import FLOORS, Env, by_name, unavailable
from .floor_targets import evaluate
from .runner import _summarise, machine, quiet_logs

ASGI = (
    "starlette",
    "starlette-session",
    "starsessions-memory",
    "sessionware-memory",
    "sessionware-memory-lazy",
    "starsessions-redis",
    "redis-bare",
    "sessionware-redis",
    "sessionware-redis-lazy",
    "sessionware-redis-cached",
)
WSGI = (
    "flask",
    "flask-cookie",
    "flask-session-redis",
    "flask-redis-bare",
    "sessionware-wsgi-memory",
    "sessionware-flask-memory",
    "sessionware-wsgi-redis",
    "sessionware-wsgi-redis-cached",
)
CASES = ("read", "write", "none", "none-anon")
HTTP_CASES = ("read", "none")
#: Round trips are counted on these (the Redis ones are timed too; PostgreSQL only counted).
ROUND_TRIPS = ("sessionware-redis", "sessionware-redis-lazy", "sessionware-wsgi-redis")
COUNTED_ONLY = ("sessionware-postgres",)
#: Over HTTP: the memory stacks (the issue's HTTP rows).
HTTP_NAMES = (
    "starlette",
    "starlette-session",
    "starsessions-memory",
    "sessionware-memory",
    "sessionware-memory-lazy",
)
RESULTS = Path(__file__).resolve().parent / "results"


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
    if results.get("roundtrips"):
        lines += [report.roundtrips_text(results).rstrip(), ""]
    if results.get("stores"):
        data = results["stores"]
        lines += [
            "Redis client cost, one redis.asyncio client (process CPU µs per call)",
            f"  aload {data['aload_cpu_us']:.1f} vs bare GET of the same bytes"
            f" {data['bare_GET_cpu_us']:.1f} = {data['read_client_cost_us']:+.1f} us;"
            f" cached aload {data['aload_cached_cpu_us']:.1f}",
            f"  invalidation delivered {data['invalidation_after_reply_us']:.0f} us after"
            f" the change's reply (p90 {data['invalidation_after_reply_p90_us']:.0f} us)",
            "",
        ]
    if results.get("http"):
        lines += [report.http_text(results).rstrip(), ""]
    if results.get("scale"):
        lines += [report.scale_text(results).rstrip(), ""]
    lines.append("Targets (issue #16)")
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
    stores_used: set[str] = set()
    trips: dict[str, Any] = {}
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
                    stores_used.add(contender.store)
                    prepared.append(inprocess.prepare(contender, env, loop))
                try:
                    cells = inprocess.measure(prepared, CASES, repeats=repeats, block_s=block_s)
                    counted = [p for p in prepared if p.contender.name in ROUND_TRIPS]
                    trips.update(roundtrips.measure(counted, CASES))
                finally:
                    for p in prepared:
                        inprocess.release(p, loop)
                results["inprocess"][protocol] = _summarise(cells, FLOORS[protocol])
            trips.update(_count_only(env, loop, results, stores_used))
            results["roundtrips"] = trips
            data, reason = stores.measure(quick)
            if data is not None:
                results["stores"] = data
            elif reason:
                results["skipped"]["stores"] = reason
            if http:
                results["http"] = _http(env, quick, results)
    finally:
        loop.close()
        from .contenders import purge

        purge(env, stores_used)
    if sizes is None:
        sizes = [100_000, 300_000] if quick else [100_000, 1_000_000]
    results["scale"] = scale.run(sizes, repeats=3, block_s=0.02, timeout=1200)
    results["meta"]["load_end"] = round(os.getloadavg()[0], 2)
    results["targets"] = evaluate(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = text(results)
    sys.stdout.write(body)
    (out_dir / "floor.txt").write_text(body)
    report.write_json(results, out_dir / "floor.json")
    report.chart(results, out_dir / "floor.png")
    return results


def _count_only(
    env: Env, loop: asyncio.AbstractEventLoop, results: dict[str, Any], used: set[str]
) -> dict[str, Any]:
    """Round trips of contenders that are counted but not timed (PostgreSQL)."""
    out: dict[str, Any] = {}
    for name in COUNTED_ONLY:
        contender = by_name(name)
        reason = unavailable(contender, env)
        if reason:
            results["skipped"][name] = reason
            continue
        used.add(contender.store)
        prepared = inprocess.prepare(contender, env, loop)
        try:
            out.update(roundtrips.measure([prepared], ("read", "write")))
        finally:
            inprocess.release(prepared, loop)
    return out


def _http(env: Env, quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    servers = []
    try:
        for name in HTTP_NAMES:
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
