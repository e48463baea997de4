"""Token verification and guard costs, measured when those modules exist.

Each function returns ``(data, None)`` or ``(None, reason)`` so the runner can
skip with a note while ``sessionware.tokens`` / ``sessionware.defences.guard`` are not
on this checkout yet.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import statistics
from collections.abc import Callable
from typing import Any

from .inprocess import stamp


def _missing(module: str) -> str | None:
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else f"module {module} is not available"


def _median_us(fn: Callable[[], object], n: int, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = stamp()
        for _ in range(n):
            fn()
        samples.append((stamp() - start) / n / 1000)
    return statistics.median(samples)


def tokens(quick: bool) -> tuple[dict[str, Any] | None, str | None]:
    """µs to verify one access token, per algorithm (target: <= 15 us).

    ``verify_us`` is the figure for the service's default algorithm; the
    others are listed beside it.  Tokens carry the benchmark's seed claims.
    """
    reason = _missing("sessionware.tokens") or _missing("jwt")
    if reason:
        return None, reason
    from sessionware import tokens as token_mode
    from sessionware.backends import MemoryBackend

    default = inspect.signature(token_mode.TokenService).parameters["algorithm"].default
    out: dict[str, Any] = {"default_algorithm": default}
    n = 500 if quick else 3000
    for algorithm in ("HS256", "EdDSA", "ES256"):
        try:
            if algorithm == "HS256":
                key: Any = os.urandom(32)
            else:
                from sessionware.tokens.keys import generate_keypair

                key = generate_keypair(algorithm)[0]
            service = token_mode.TokenService(
                MemoryBackend(),
                keys={"k1": key},
                algorithm=algorithm,
                issuer="https://bench.example.test",
                audience="bench",
            )
            token = service.issue("alice", claims={"user": "alice", "n": 0}).access_token
            service.verify(token)
            out[f"verify_{algorithm}_us"] = _median_us(lambda: service.verify(token), n)
        except Exception as exc:  # an algorithm without its extra: note it, go on
            out[f"verify_{algorithm}"] = f"failed: {exc!r}"[:120]
    if f"verify_{default}_us" in out:
        out["verify_us"] = out[f"verify_{default}_us"]
    return out, None


def guard(quick: bool) -> tuple[dict[str, Any] | None, str | None]:
    """Guard overhead on good traffic and the cost of a forged-cookie flood (ASGI, memory).

    * ``good_overhead_us``: sessionware with its defaults (guard on) minus the
      same middleware with ``guard=None``, on ``/read`` and ``/none`` without a
      cookie, blocks interleaved; the larger of the two is the figure judged;
    * ``forged_us``: one request carrying a well-formed cookie with a wrong
      signature, cycling through 4096 client addresses (each is blocked after
      ``bad_limit`` of them, so the run covers counting and refusing);
    * ``read_under_flood_us``: a good ``/read`` from another address while the
      guard's tables hold those 4096 flooding clients.
    """
    reason = _missing("sessionware.defences.guard")
    if reason:
        return None, reason
    import asyncio

    from . import apps
    from .contenders import SECRET, Built, Contender, Env, _scope_session
    from .inprocess import measure, prepare

    def factory(**fields: Any) -> Callable[[Env], Built]:
        def build(env: Env) -> Built:
            from sessionware import SessionMiddleware
            from sessionware.backends import MemoryBackend

            app = apps.starlette_app(_scope_session)
            return Built(
                SessionMiddleware(app, secret_keys=[SECRET], backend=MemoryBackend(), **fields)
            )

        return build

    loop = asyncio.new_event_loop()
    env = Env()
    on = prepare(Contender("guard-on", "asgi", "sessionware", factory()), env, loop)
    off = prepare(Contender("guard-off", "asgi", "sessionware", factory(guard=None)), env, loop)
    repeats, block_s = (5, 0.02) if quick else (9, 0.05)
    cells = measure([on, off], ["read", "none-anon"], repeats=repeats, block_s=block_s)
    deltas = {  # paired: guard-on and guard-off blocks ran back to back
        case: cells["guard-on"][case].over(cells["guard-off"][case])[0]
        for case in ("read", "none-anon")
    }
    out: dict[str, Any] = {
        "read_guard_on_us": cells["guard-on"]["read"].median,
        "read_guard_off_us": cells["guard-off"]["read"].median,
        "good_overhead_read_us": deltas["read"],
        "good_overhead_none_anon_us": deltas["none-anon"],
        "good_overhead_us": max(deltas.values()),
    }
    out.update(_flood(on, repeats))
    loop.close()
    return out, None


def _flood(prepared: Any, repeats: int) -> dict[str, float]:
    """Forged cookies from 4096 addresses, then good reads with those clients on record."""
    good = prepared.template("read")
    _, value = prepared.credential
    session_value = value.split("=", 1)[1]
    forged_value = session_value[:-4] + ("AAAA" if not session_value.endswith("AAAA") else "BBBB")
    forged_cookie = value.split("=", 1)[0] + "=" + forged_value
    templates = []
    for index in range(4096):
        template = prepared.template("read").copy()
        headers = [(k, v) for k, v in template["headers"] if k != b"cookie"]
        headers.append((b"cookie", forged_cookie.encode()))
        template["headers"] = headers
        template["client"] = (f"198.51.{index // 256}.{index % 256}", 40000)
        templates.append(template)
    driver = prepared.driver
    forged, reads = [], []
    n = 4096
    driver.block_cycle(templates, n)  # fill the guard's tables (and trip its blocks)
    for _ in range(repeats):
        forged.append(driver.block_cycle(templates, n) / n / 1000)
        reads.append(driver.block(good, 2000) / 2000 / 1000)
    return {
        "forged_us": statistics.median(forged),
        "read_under_flood_us": statistics.median(reads),
    }
