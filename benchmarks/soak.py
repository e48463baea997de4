"""Load-and-fault soak: virtual users on a real server while Redis goes away.

Run (bounded in time and count, loopback only)::

    PYTHONPATH=. python benchmarks/soak.py --duration 600 --users 24 --json /tmp/soak.json

What it does:

1. starts its own ``redis-server`` (no persistence) on a free port in
   28000-28999, never the shared 6379 one, and later stops and restarts it
   by PID;
2. starts ``benchmarks/soak_app.py`` under uvicorn in its own process, on
   RedisBackend (``--backend memory`` runs without Redis and without the
   outage, as a baseline);
3. runs ``--users`` virtual users (one ``httpx.AsyncClient``): each cycle
   signs in, writes distinct keys and reads after each write, gets a token
   pair, calls the API with it, refreshes twice, revokes it, reads every
   acknowledged write back, signs out and checks that the old cookie is dead;
4. at ``--outage-at`` of the run it stops Redis for ``--outage-seconds`` and
   starts a fresh, empty one on the same port.

What counts (``check`` turns these into failures):

* **Outage window**: from the stop signal to the moment the new Redis
  answers PING, plus ``SLACK`` seconds for connections to re-establish.
* **503** is expected only for requests overlapping the window.
* **401** is expected when the request overlaps the window (reads fail
  closed), or when it carries a session or token created before Redis came
  back (Redis ran without persistence: everything before the outage is
  gone), or on the deliberate replay of a signed-out cookie.
* **Lost write**: a write answered 200 whose key is missing from the
  session's read-back.  It is *excused* only if it was acknowledged before
  Redis answered PING again and the read-back ended after the stop signal
  (its data was in the Redis that stopped).  Every write acknowledged after
  recovery must be read back: zero lost writes is the pass mark.
* Any other status, any 5xx but 503, any transport error, any signed-out
  cookie that still reads its session: failures.

Reported: requests, statuses, failures by kind, lost and excused writes, the
server's RSS at start, after warm-up and at the end, p50/p99 latency, and
Redis keys left over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from soak_users import Outage, Tally, VirtualUser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Options:
    duration: float = 60.0
    users: int = 16
    max_requests: int = 2_000_000
    backend: str = "redis"
    outage_at: float = 0.4
    outage_seconds: float = 4.0
    seed: int = 1


class RedisServer:
    """A private ``redis-server`` without persistence, stopped and started by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port(28000, 28999)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: self.command("PING") == "PONG", f"redis-server on {self.port}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # this PID only: the server we started
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def command(self, *args: str) -> Any:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, decode_responses=True)
        try:
            reply = client.execute_command(*args)
            return "PONG" if reply is True and args[0] == "PING" else reply
        finally:
            client.close()


class AppServer:
    """``soak_app.py`` under uvicorn, in its own process so its RSS is its own."""

    def __init__(self, backend: str, redis_url: str | None, log: Path) -> None:
        self.port = _free_port(0, 0)
        self.log = log
        args = [sys.executable, str(HERE / "soak_app.py"), "--port", str(self.port)]
        args += ["--backend", backend]
        if redis_url:
            args += ["--redis-url", redis_url]
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=env)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"the app server exited:\n{self.log.read_text()[-2000:]}")
            return httpx.get(self.url + "/data", timeout=1).status_code == 401

        _wait(up, "the app server", timeout=30)

    def rss_kib(self) -> int:
        """Resident memory of the server process (Linux ``/proc``)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port(low: int, high: int) -> int:
    for port in range(low, high + 1) if low else [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise SystemExit(f"no free port in {low}-{high}")


def _wait(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError, ConnectionError):
            pass
        except Exception as exc:  # redis.ConnectionError and friends while starting
            if type(exc).__module__.startswith("redis"):
                pass
            else:
                raise
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


async def _load(opts: Options, url: str, outage: Outage, tally: Tally, redis: Any) -> float:
    """Run the users (and the outage); returns the load's wall time."""
    t0 = outage.t0 = time.monotonic()
    deadline = t0 + opts.duration
    rng = random.Random(opts.seed)
    limits = httpx.Limits(max_connections=opts.users, max_keepalive_connections=opts.users)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        users = [
            VirtualUser(i, client, tally, outage, deadline, opts.max_requests, rng.random())
            for i in range(opts.users)
        ]
        tasks = [asyncio.create_task(u.run()) for u in users]
        if redis is not None and opts.outage_seconds > 0:
            await asyncio.sleep(opts.duration * opts.outage_at)
            outage.stop = time.monotonic()
            await asyncio.to_thread(redis.stop)
            await asyncio.sleep(opts.outage_seconds)
            await asyncio.to_thread(redis.start)
            outage.ready = time.monotonic()
        await asyncio.gather(*tasks)
    return time.monotonic() - t0


def _trace(rss: list[tuple[float, int]], duration: float) -> dict[str, int]:
    """RSS at about ten evenly spaced moments of the run (``second -> KiB``)."""
    step = max(duration / 10, 1.0)
    marks: dict[str, int] = {}
    for t, kib in rss:
        mark = int(t // step * step)
        marks.setdefault(str(mark), kib)
    return marks


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def _servers(opts: Options, workdir: Path) -> Iterator[tuple[AppServer, RedisServer | None]]:
    redis = RedisServer(workdir) if opts.backend == "redis" else None
    app = AppServer(opts.backend, redis.url if redis else None, workdir / "server.log")
    try:
        if redis is not None:
            redis.start()
        app.start()
        yield app, redis
    finally:
        app.stop()
        if redis is not None:
            redis.stop()


def run(opts: Options) -> dict[str, Any]:
    """One soak run; the report as a JSON-able dict."""
    tally, outage = Tally(), Outage()
    with tempfile.TemporaryDirectory(prefix="sessionware-soak-") as tmp:
        workdir = Path(tmp)
        with _servers(opts, workdir) as (app, redis):
            rss: list[tuple[float, int]] = [(0.0, app.rss_kib())]

            async def main() -> float:
                async def sample() -> None:
                    t0 = time.monotonic()
                    while True:
                        await asyncio.sleep(1.0)
                        rss.append((time.monotonic() - t0, app.rss_kib()))

                sampler = asyncio.create_task(sample())
                try:
                    return await _load(opts, app.url, outage, tally, redis)
                finally:
                    sampler.cancel()

            wall = asyncio.run(main())
            rss.append((wall, app.rss_kib()))
            keys_left = int(redis.command("DBSIZE")) if redis is not None else None
            log = (workdir / "server.log").read_text(errors="replace")
    warm = next((kib for t, kib in rss if t >= opts.duration * 0.1), rss[-1][1])
    events = Counter(
        line.split()[1] for line in log.splitlines() if line.startswith("sessionware.security ")
    )
    lat = tally.latencies
    report = {
        "options": asdict(opts),
        "wall_seconds": round(wall, 1),
        "requests": tally.requests,
        "requests_per_second": round(tally.requests / wall, 1) if wall else 0.0,
        "statuses": dict(sorted(tally.statuses.items())),
        "failures": dict(tally.failures),
        "failure_examples": tally.examples,
        "writes": {
            "acknowledged": tally.acked,
            "acknowledged_after_recovery": tally.acked_after_recovery,
            "read_back": tally.verified,
            "lost": tally.lost,
            "excused_outage": tally.excused,
            "stale_reads": tally.stale_reads,
        },
        "sessions": {
            "cookie": tally.sessions,
            "token": tally.token_sessions,
            "refreshes": tally.refreshes,
            "signed_out_replays_refused": tally.replays_refused,
        },
        "outage": None
        if outage.stop is None
        else {
            "stopped_at_second": round(outage.stop - outage.t0, 1),
            "seconds_down": round((outage.ready or outage.stop) - outage.stop, 2),
            "last_503_after_ready": None
            if tally.last_503_after_ready is None
            else round(tally.last_503_after_ready, 3),
        },
        "latency_ms": {
            "p50": round(_percentile(lat, 0.50) * 1000, 2),
            "p99": round(_percentile(lat, 0.99) * 1000, 2),
            "max": round(max(lat, default=0.0) * 1000, 2),
        },
        "server_rss_kib": {"start": rss[0][1], "warm": warm, "end": rss[-1][1]},
        "server_rss_trace_kib": _trace(rss, opts.duration),
        "server_tracebacks": log.count("Traceback"),
        "server_events": dict(events.most_common()),
        "redis_keys_left": keys_left,
    }
    return report


def check(report: dict[str, Any]) -> list[str]:
    """The correctness verdict: empty when the run passed (timings are never judged)."""
    problems = [f"{kind}: {n}" for kind, n in report["failures"].items() if n]
    if report["writes"]["lost"]:
        problems.append(f"lost acknowledged writes: {report['writes']['lost']}")
    if report["server_tracebacks"]:
        problems.append(f"server tracebacks: {report['server_tracebacks']}")
    if not report["writes"]["acknowledged_after_recovery"] and report["outage"]:
        problems.append("no write was acknowledged after recovery: the run proved nothing")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sessionware load-and-fault soak")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--users", type=int, default=16, help="concurrent virtual users")
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--backend", choices=("redis", "memory"), default="redis")
    parser.add_argument("--outage-at", type=float, default=0.4, help="fraction of the run")
    parser.add_argument("--outage-seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    # A SIGTERM unwinds like an exception, so the servers we started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    opts = Options(
        duration=args.duration,
        users=args.users,
        max_requests=args.max_requests,
        backend=args.backend,
        outage_at=args.outage_at,
        outage_seconds=args.outage_seconds,
        seed=args.seed,
    )
    report = run(opts)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    problems = check(report)
    for problem in problems:
        print("FAIL", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
