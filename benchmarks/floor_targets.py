"""Issue #16's targets, judged on one ``python -m benchmarks.floor`` run.

Every verdict compares figures of the same run (ratios of overheads over
the bare app, or a difference against the bare Redis commands), so it holds
under background load that hits every contender alike.  A figure that was
not measured (a contender skipped, no Redis) is "not measured", never
guessed.  Printed and written to ``floor.json``; never asserted in a test.
"""

from __future__ import annotations

from typing import Any


def _cell(results: dict[str, Any], protocol: str, name: str, case: str) -> dict[str, Any] | None:
    cell: dict[str, Any] | None = (
        results.get("inprocess", {}).get(protocol, {}).get(name, {}).get(case)
    )
    return cell


def _overhead(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = _cell(results, protocol, name, case)
    return None if cell is None else float(cell["overhead_us"])


def _median(results: dict[str, Any], protocol: str, name: str, case: str) -> float | None:
    cell = _cell(results, protocol, name, case)
    return None if cell is None else float(cell["median_us"])


def _rps_ratio(results: dict[str, Any], name: str, case: str) -> float | None:
    value = results.get("http", {}).get(name, {}).get(case, {}).get("rps_ratio")
    return None if value is None else float(value)


def verdict(text: str, value: float | None, limit: float, at_most: bool = True) -> dict[str, Any]:
    """One target: what was measured against its limit (``met`` is None when not measured)."""
    met = None if value is None else (value <= limit if at_most else value >= limit)
    return {"target": text, "value": value, "limit": limit, "met": met}


def _ratio(results: dict[str, Any], protocol: str, ours: str, peer: str, case: str) -> float | None:
    mine, theirs = (_overhead(results, protocol, n, case) for n in (ours, peer))
    return None if mine is None or not theirs else mine / theirs


def memory_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The memory-backend, WSGI, lazy-loading, HTTP and RSS targets."""
    bare = _median(results, "asgi", "starlette", "none-anon")
    anon = _median(results, "asgi", "sessionware-memory", "none-anon")
    steps = results.get("scale") or {}
    last = steps[max(steps, key=int)] if steps else {}
    per_session = last.get("rss_per_session")
    r = results
    return [
        verdict(
            "ASGI memory read overhead <= 0.4 x Starlette cookie session's",
            _ratio(r, "asgi", "sessionware-memory", "starlette-session", "read"),
            0.4,
        ),
        verdict(
            "ASGI memory write overhead <= 0.6 x Starlette cookie session's",
            _ratio(r, "asgi", "sessionware-memory", "starlette-session", "write"),
            0.6,
        ),
        verdict(
            "ASGI request without cookie <= 1.15 x the bare app's time",
            None if bare is None or anon is None else anon / bare,
            1.15,
        ),
        verdict(
            "WSGI memory read overhead <= 0.4 x Flask cookie session's",
            _ratio(r, "wsgi", "sessionware-wsgi-memory", "flask-cookie", "read"),
            0.4,
        ),
        verdict(
            "WSGI untouched request with cookie (Redis) <= 0.1 x Flask-Session-redis's overhead",
            _ratio(r, "wsgi", "sessionware-wsgi-redis", "flask-session-redis", "none"),
            0.1,
        ),
        verdict(
            "HTTP /read >= 0.7 x bare app's requests/s (sessionware-memory)",
            _rps_ratio(r, "sessionware-memory", "read"),
            0.7,
            at_most=False,
        ),
        verdict(
            "HTTP untouched with cookie >= 0.8 x bare (sessionware-memory, eager)",
            _rps_ratio(r, "sessionware-memory", "none"),
            0.8,
            at_most=False,
        ),
        verdict(
            "HTTP untouched with cookie >= 0.8 x bare (sessionware-memory-lazy)",
            _rps_ratio(r, "sessionware-memory-lazy", "none"),
            0.8,
            at_most=False,
        ),
        verdict(
            f"memory backend RSS per small session ({last.get('from', 0):,} -> "
            f"{last.get('sessions', 0):,}) <= 700 B",
            None if per_session is None else float(per_session),
            700,
        ),
    ]


def _trips(results: dict[str, Any], name: str, case: str, part: str) -> float | None:
    value = results.get("roundtrips", {}).get(name, {}).get(case, {}).get(part)
    return None if value is None else float(value)


def redis_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The Redis, client-cache and SQL round-trip targets."""
    r = results
    stores = results.get("stores") or {}
    out = []
    for protocol, ours, peer in (
        ("asgi", "sessionware-redis", "starsessions-redis"),
        ("wsgi", "sessionware-wsgi-redis", "flask-session-redis"),
    ):
        for case, limit in (("read", 0.5), ("write", 0.9)):
            out.append(
                verdict(
                    f"{protocol.upper()} Redis {case} overhead <= {limit} x {peer}'s",
                    _ratio(r, protocol, ours, peer, case),
                    limit,
                )
            )
    for protocol, ours, peer in (
        ("asgi", "sessionware-redis-cached", "starsessions-redis"),
        ("wsgi", "sessionware-wsgi-redis-cached", "flask-session-redis"),
    ):
        out.append(
            verdict(
                f"{protocol.upper()} Redis read with client_cache overhead <= 0.5 x {peer}'s",
                _ratio(r, protocol, ours, peer, "read"),
                0.5,
            )
        )
    out.append(
        verdict(
            "Redis read: aload's client CPU - a bare GET's of the same bytes <= 25 us",
            stores.get("read_client_cost_us"),
            25,
        )
    )
    for name, case, part, limit, text in (
        ("sessionware-redis", "read", "round_trips", 1, "Redis read = 1 round trip"),
        ("sessionware-redis", "write", "apply", 1, "Redis write = its read + 1 round trip"),
        ("sessionware-redis", "none", "round_trips", 1, "Redis untouched (eager) = 1 round trip"),
        ("sessionware-redis-lazy", "none", "round_trips", 0, "Redis untouched (lazy) = 0"),
        ("sessionware-wsgi-redis", "none", "round_trips", 0, "WSGI Redis untouched = 0"),
        ("sessionware-postgres", "read", "round_trips", 1, "PostgreSQL read = 1 round trip"),
    ):
        out.append(verdict(text, _trips(r, name, case, part), limit))
    return out


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every #16 target of this run, memory first."""
    return memory_targets(results) + redis_targets(results)
