"""Over HTTP: each contender in its own server process, loaded by ``wrk``.

All servers of a run start first and stay idle until their turn; the load
runs then interleave (repeat after repeat, contender after contender), so
the ratios to the bare app compare runs made under the same machine load.
Requests carry the same browser headers as the in-process benchmark.

``wrk`` (Debian package ``wrk``) is used when present: 1 thread, a few
keep-alive connections.  Without it, a bounded Python load generator
(threads with keep-alive ``http.client`` connections, a fixed duration)
stands in; its absolute numbers are lower (it competes for the same CPUs),
the ratios remain comparable within a run, and the output says which one ran.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .apps import READ_BODY
from .contenders import Contender, Env, cookie_credential
from .inprocess import BROWSER_HEADERS, CASES, FLOOR_CREDENTIAL, OTHER_COOKIES, WRITES

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 8


@dataclass
class Server:
    contender: Contender
    port: int
    process: subprocess.Popen[bytes]
    credential: tuple[str, str] = ("", "")
    log: Path | None = None

    def cases(self, wanted: Iterable[str]) -> list[str]:
        """The cases of ``wanted`` this server can answer (token sessions cannot write)."""
        if self.contender.read_only:
            return [c for c in wanted if c not in WRITES]
        return list(wanted)

    def headers(self, case: str) -> list[tuple[str, str]]:
        _, with_credential = CASES[case]
        headers = [h for h in BROWSER_HEADERS if h[0] != "host"]
        name, value = self.credential
        if with_credential and name == "cookie":
            headers.append(("cookie", f"{OTHER_COOKIES}; {value}"))
        elif with_credential:
            headers.append((name, value))
        return headers


@dataclass
class Load:
    """One load run: requests/s and latency percentiles (ms)."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    tool: str = "wrk"


@dataclass
class HttpCell:
    runs: list[Load] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "rps": statistics.median(r.rps for r in self.runs),
            "p50_ms": statistics.median(r.p50_ms for r in self.runs),
            "p99_ms": statistics.median(r.p99_ms for r in self.runs),
            "errors": sum(r.errors for r in self.runs),
            "runs": len(self.runs),
            "tool": self.runs[0].tool if self.runs else None,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(
    port: int, path: str, headers: Iterable[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def start(contender: Contender, env: Env) -> Server:
    """Start ``contender``'s server, wait until it answers, and seed a session."""
    port = _free_port()
    log = env.tmp / f"{contender.name}.log"
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve", contender.name, str(port), env.run_id],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(contender, port, process, log=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise RuntimeError(
                    f"{contender.name} server did not start: {log.read_text()[-800:]}"
                ) from None
            time.sleep(0.05)
    if contender.family == "floor":
        server.credential = FLOOR_CREDENTIAL
    elif contender.read_only:  # token mode: mint a token the server's service accepts
        built = contender.factory(env)
        server.credential = built.credential([], b"") if built.credential else ("", "")
        if built.close is not None:
            built.close()
    else:
        status, headers, body = _get(port, "/seed", BROWSER_HEADERS[1:])
        if status != 200:
            stop(server)
            raise RuntimeError(f"{contender.name} /seed over HTTP answered {status}")
        server.credential = cookie_credential(headers, body)
    status, _, body = _get(port, "/read", server.headers("read"))
    if status != 200 or body != READ_BODY:
        stop(server)
        raise RuntimeError(f"{contender.name} /read over HTTP answered {status} {body[:60]!r}")
    return server


def stop(server: Server) -> None:
    """Stop the server process we started (by its PID only)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Requests/s, p50 and p99 from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Load(rps, p50, p99, errors, "wrk")


def run_wrk(port: int, path: str, headers: list[tuple[str, str]], seconds: float) -> Load:
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers:
        args += ["-H", f"{name}: {value}"]
    args.append(f"http://127.0.0.1:{port}{path}")
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(done.stdout)


def run_python(port: int, path: str, headers: list[tuple[str, str]], seconds: float) -> Load:
    """A bounded load generator: ``CONNECTIONS`` threads, keep-alive, ``seconds`` long."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    header_map = dict(headers)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=header_map)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    if not latencies:
        return Load(0.0, 0.0, 0.0, errors[0], "python")
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3  # noqa: E731
    return Load(len(latencies) / elapsed, pick(0.50), pick(0.99), errors[0], "python")


def _sequential(port: int, path: str, headers: list[tuple[str, str]], count: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(count):
            conn.request("GET", path, headers=dict(headers))
            conn.getresponse().read()
    finally:
        conn.close()


def load_tool() -> tuple[str, Callable[[int, str, list[tuple[str, str]], float], Load]]:
    if shutil.which("wrk"):
        return "wrk", run_wrk
    return "python", run_python


def measure(
    servers: list[Server],
    cases: Iterable[str],
    *,
    seconds: float = 2.0,
    repeats: int = 1,
    warm_s: float = 1.0,
    tick: Callable[[str], None] | None = None,
) -> dict[str, dict[str, HttpCell]]:
    """Load every server on every case, interleaved, ``repeats`` times.

    :param warm_s: a load run of this length per server and case first
        (0: just 100 sequential requests, enough to open pools and fill caches).
    """
    cases = list(cases)
    _, run = load_tool()
    cells: dict[str, dict[str, HttpCell]] = {
        s.contender.name: {c: HttpCell() for c in s.cases(cases)} for s in servers
    }
    for server in servers:
        for case in server.cases(cases):
            path, _ = CASES[case]
            if warm_s > 0:
                run(server.port, path, server.headers(case), warm_s)
            else:
                _sequential(server.port, path, server.headers(case), 100)
    for repeat in range(repeats):
        # Alternate the order, as the in-process harness does: on a shared machine
        # a fixed order lets one slot keep catching the same background load.
        for server in servers if repeat % 2 == 0 else servers[::-1]:
            for case in server.cases(cases):
                path, _ = CASES[case]
                cells[server.contender.name][case].runs.append(
                    run(server.port, path, server.headers(case), seconds)
                )
                if tick:
                    tick(f"http {server.contender.name} {case}")
    return cells
