"""The issue's performance targets, judged on one run's results (printed, never asserted).

Every target is a ratio or a difference between figures measured in the
same run, so it holds on any machine and under any background load that
hits all contenders alike.  A target whose inputs were not measured (a
contender skipped, a section not run) is reported as "not measured" rather
than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Target:
    id: str
    text: str
    measured: str = "not measured"
    met: bool | None = None


def _median(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = results.get("inprocess", {}).get(protocol, {}).get(name, {}).get(case)
    return None if cell is None else float(cell["median_us"])


def _overhead(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = results.get("inprocess", {}).get(protocol, {}).get(name, {}).get(case)
    return None if cell is None else float(cell["overhead_us"])


def _ratio_target(
    results: dict[str, Any],
    tid: str,
    protocol: str,
    ours: str,
    peer: str,
    cases: tuple[str, ...],
    limit: float,
) -> Target:
    target = Target(
        tid, f"{protocol.upper()} {ours} {'/'.join(cases)}: overhead <= {limit} x {peer}'s"
    )
    parts, verdicts = [], []
    for case in cases:
        mine, theirs = (
            _overhead(results, protocol, ours, case),
            _overhead(results, protocol, peer, case),
        )
        if mine is None or theirs is None:
            return target
        if theirs <= 0:
            parts.append(f"{case}: {mine:.1f} us vs {theirs:.1f} us (peer adds nothing; n/a)")
            verdicts.append(mine <= 0)
            continue
        ratio = mine / theirs
        parts.append(f"{case}: {mine:.1f} us / {theirs:.1f} us = {ratio:.2f}")
        verdicts.append(ratio <= limit)
    target.measured = "; ".join(parts)
    target.met = all(verdicts)
    return target


def _no_cookie(results: dict[str, Any], tid: str, protocol: str, ours: str) -> Target:
    target = Target(
        tid, f"{protocol.upper()} {ours} /none without cookie: overhead <= 1 us over bare app"
    )
    cell = results.get("inprocess", {}).get(protocol, {}).get(ours, {}).get("none-anon")
    if cell is not None and cell.get("overhead_us") is not None:
        over, q1, q3 = cell["overhead_us"], cell.get("overhead_q1_us"), cell.get("overhead_q3_us")
        target.measured = f"{over:+.2f} us"
        if q1 is not None and q3 is not None:
            target.measured += f" (paired quartiles {q1:+.1f} .. {q3:+.1f} us)"
            if q1 <= 1.0 < q3:
                target.measured += "; the verdict is within the noise of this run"
        target.met = over <= 1.0
    return target


def _round_trips(results: dict[str, Any], tid: str, ours: str) -> Target:
    """A read request costs one round trip; a write costs one more, for the commit.

    Every request that presents a session loads it (one round trip) before
    the app runs, so "write = 1 round trip" is judged on the commit
    (``apply``) of a write request; its total is shown as well.
    """
    target = Target(tid, f"{ours}: read = 1 round trip; write's commit = 1 round trip")
    row = results.get("roundtrips", {}).get(ours)
    if row and "read" in row and "write" in row:
        read, write = row["read"], row["write"]
        target.measured = (
            f"read {read['round_trips']:g}; write {write['round_trips']:g}"
            f" = load {write.get('load', 0):g} + commit {write.get('apply', 0):g}"
        )
        target.met = read["round_trips"] <= 1 and write.get("apply", write["round_trips"]) <= 1
    return target


def _http(results: dict[str, Any], tid: str, floor: str, ours: str) -> Target:
    target = Target(tid, f"HTTP {ours} /read requests/s >= 0.9 x {floor}")
    table = results.get("http", {})
    mine, bare = table.get(ours, {}).get("read"), table.get(floor, {}).get("read")
    if mine and bare and bare["rps"]:
        ratio = mine["rps"] / bare["rps"]
        target.measured = f"{mine['rps']:.0f} / {bare['rps']:.0f} req/s = {ratio:.2f}"
        target.met = ratio >= 0.9
    return target


def _scale_flat(results: dict[str, Any]) -> Target:
    target = Target("scale-read", "memory backend: read at 1 M sessions <= 1.2 x read at 1 k")
    sizes = results.get("scale", {})
    if sizes:
        largest = max(sizes, key=int)
        row = sizes[largest]
        target.measured = (
            f"{int(largest):,} sessions: {row['read_us']:.1f} us vs"
            f" {row['reference_read_us']:.1f} us at 1 k (interleaved) = {row['vs_1k']:.2f}"
        )
        target.met = row["vs_1k"] <= 1.2 if int(largest) >= 1_000_000 else None
        if target.met is None:
            target.measured += " (1 M not run: use --full)"
    return target


def _scale_rss(results: dict[str, Any]) -> Target:
    target = Target("scale-rss", "memory backend: <= 1 KiB RSS per small session")
    sizes = {int(k): v for k, v in results.get("scale", {}).items() if int(k) >= 100_000}
    if sizes:
        largest = max(sizes)
        per = sizes[largest]["rss_per_session"]
        target.measured = f"{per:.0f} B per session (step up to {largest:,})"
        target.met = per <= 1024
    return target


def _simple(
    results: dict[str, Any], tid: str, text: str, section: str, key: str, limit: float
) -> Target:
    target = Target(tid, text)
    value = results.get(section, {}).get(key)
    if value is not None:
        target.measured = f"{value:.2f} us"
        target.met = value <= limit
    return target


def _token_verify(results: dict[str, Any]) -> Target:
    data = results.get("tokens", {})
    default = data.get("default_algorithm", "?")
    target = Target("token-verify", f"token mode: verifying an access token <= 15 us ({default})")
    if "verify_us" in data:
        others = ", ".join(
            f"{k[7:-3]} {v:.1f} us"
            for k, v in data.items()
            if k.startswith("verify_") and k != "verify_us"
        )
        target.measured = f"{data['verify_us']:.1f} us (all: {others})"
        target.met = data["verify_us"] <= 15.0
    return target


CHECKS: tuple[Callable[[dict[str, Any]], Target], ...] = (
    lambda r: _ratio_target(
        r, "asgi-read", "asgi", "sessionware-memory", "starlette-session", ("read",), 0.3
    ),
    lambda r: _ratio_target(
        r, "wsgi-read", "wsgi", "sessionware-wsgi-memory", "flask-cookie", ("read",), 0.3
    ),
    lambda r: _no_cookie(r, "asgi-none", "asgi", "sessionware-memory"),
    lambda r: _no_cookie(r, "wsgi-none", "wsgi", "sessionware-wsgi-memory"),
    lambda r: _round_trips(r, "redis-rt-asgi", "sessionware-redis"),
    lambda r: _round_trips(r, "redis-rt-wsgi", "sessionware-wsgi-redis"),
    lambda r: _ratio_target(
        r, "asgi-redis", "asgi", "sessionware-redis", "starsessions-redis", ("read", "write"), 0.4
    ),
    lambda r: _ratio_target(
        r,
        "wsgi-redis",
        "wsgi",
        "sessionware-wsgi-redis",
        "flask-session-redis",
        ("read", "write"),
        0.4,
    ),
    lambda r: _http(r, "http-asgi", "starlette", "sessionware-memory"),
    lambda r: _http(r, "http-wsgi", "flask", "sessionware-wsgi-memory"),
    _scale_flat,
    _scale_rss,
    lambda r: _simple(
        r, "guard", "guard on good traffic: <= 1 us per request", "guard", "good_overhead_us", 1.0
    ),
    _token_verify,
)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with what was measured and whether it is met (None: not measured)."""
    from .stores import CHECKS as STORE_CHECKS  # issue #16's Redis targets

    return [asdict(check(results)) for check in (*CHECKS, *STORE_CHECKS)]
