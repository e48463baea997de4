"""Token verification and guard costs, measured when those modules exist.

Each function returns ``(data, None)`` or ``(None, reason)`` so the runner can
skip with a note while ``sessionware.tokens`` / ``sessionware.guard`` are not
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
                from sessionware.token_keys import generate_keypair

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
    """Guard overhead on good traffic and cost under a flood of forged cookies."""
    reason = _missing("sessionware.guard")
    if reason:
        return None, reason
    return None, "sessionware.guard found but its benchmark is not wired yet"
