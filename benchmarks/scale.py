"""Scale: the memory backend with 1 k, 100 k and 1 M live sessions.

Runs in a fresh child process (``python -m benchmarks.scale 1000 100000``) so
its RSS is not the harness's.  The store grows step by step; at each size we
measure

* ``read_us``: the in-process ASGI ``/read`` request (same app as the main
  benchmark), cycling over sessions that were created through the app at
  points spread across the fill, so reads touch records all over the heap
  rather than one hot record;
* ``load_us``: ``MemoryBackend.load`` alone, over 256 random live keys;
* ``rss_per_session``: growth of the process's resident set during the step
  divided by the sessions added (records, indexes, heap entries, allocator
  slack: everything a real process would pay); ``from`` is the size the step
  started at, so the 1 M step's figure is "per session from 100 k to 1 M".

Records are added with direct ``Create`` ops built the way the engine builds
them (keyed-hash storage key, random handle, JSON-encoded data, client info),
which is ~20x faster than going through HTTP handling for each one.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import sys
import time
from typing import Any

from .apps import starlette_app
from .contenders import SECRET, _scope_session, cookie_credential
from .inprocess import BROWSER_HEADERS, OTHER_COOKIES, UA, AsgiDriver, stamp

SEEDS_PER_STEP = 64
REFERENCE = 1000
BATCH = 5000


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _records(backend: Any, codec: Any, count: int, now: float) -> list[Any]:
    from sessionware.agents import describe_agent
    from sessionware.ids import new_handle, new_id
    from sessionware.records import Create, Record, encode

    ops = []
    for _ in range(count):
        now = (
            time.time()
        )  # one float per record, shared by created_at and last_active as in the engine
        record = Record(
            key=codec.storage_key(new_id()),
            handle=new_handle(),
            created_at=now,
            last_active=now,
            expires_at=now + 1800,
            absolute_at=now + 43200,
            data={"user": encode("alice"), "n": encode(0)},
            info={"ip": "127.0.0.1", "agent": describe_agent(UA)},
        )
        ops.append(Create(record))
    return ops


class _Store:
    """One sessionware ASGI app over a MemoryBackend, grown on demand."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from sessionware import SessionMiddleware
        from sessionware.backends import MemoryBackend

        self.backend = MemoryBackend(max_entries=2_000_000)
        self.app = SessionMiddleware(
            starlette_app(_scope_session), secret_keys=[SECRET], backend=self.backend
        )
        self.driver = AsgiDriver(self.app, loop)
        self.seed = self.driver.template("/seed", BROWSER_HEADERS)
        self.templates: list[dict[str, Any]] = []
        self.live = 0

    def grow(self, size: int) -> float:
        """Add sessions up to ``size``: a few through ``/seed``, the rest direct; seconds spent."""
        adding = size - self.live
        seeds = min(SEEDS_PER_STEP, adding)
        direct = adding - seeds
        per_seed = direct // seeds if seeds else 0
        started = time.perf_counter()
        gc.disable()
        try:
            made = 0
            for index in range(seeds):
                chunk = direct - made if index == seeds - 1 else per_seed
                for start in range(0, chunk, BATCH):
                    now = time.time()
                    ops = _records(
                        self.backend, self.app.engine.ids, min(BATCH, chunk - start), now
                    )
                    self.backend.apply(ops, now)
                made += chunk
                # Each session from its own address, as real users: one address
                # creating sessions in bulk is what the flood guard stops.
                self.seed["client"] = (
                    f"10.{len(self.templates) >> 8}.{len(self.templates) & 255}.9",
                    1,
                )
                reply = self.driver.call(self.seed)
                _, value = cookie_credential(reply.headers, reply.body)
                headers = [*BROWSER_HEADERS, ("cookie", f"{OTHER_COOKIES}; {value}")]
                self.templates.append(self.driver.template("/read", headers))
        finally:
            gc.enable()
        self.live = size
        return time.perf_counter() - started

    def block(self, n: int) -> float:
        """µs per ``/read`` over ``n`` requests cycling through the seeded sessions."""
        return self.driver.block_cycle(self.templates, n) / n / 1000

    def load_us(self, repeats: int) -> float:
        keys = random.sample(list(self.backend._records), min(256, len(self.backend._records)))
        samples = []
        for _ in range(repeats):
            now = time.time()
            start = stamp()
            for _ in range(40):
                for key in keys:
                    self.backend.load(key, now)
            samples.append((stamp() - start) / (40 * len(keys)) / 1000)
        return statistics.median(samples)


def worker(sizes: list[int], repeats: int = 9, block_s: float = 0.03) -> dict[str, Any]:
    """Grow one store through ``sizes``; at each, time /read against a 1 k reference store.

    The reference store (1 k sessions, same process) is timed in blocks
    interleaved with the big store's, so ``vs_1k`` compares reads made under
    the same machine load: on a shared machine that ratio is far steadier
    than two absolute figures taken minutes apart.
    """
    loop = asyncio.new_event_loop()
    reference = _Store(loop)
    reference.grow(REFERENCE)
    store = _Store(loop)
    out: dict[str, Any] = {}
    for size in sorted(sizes):
        added = size - store.live
        gc.collect()
        before = rss_bytes()
        fill_s = store.grow(size)
        gc.collect()
        after = rss_bytes()
        n = 100
        while n * store.block(20) * 1000 < block_s * 1e9:
            n *= 2
        store.block(n)
        reference.block(n)
        big, small = [], []
        for _ in range(repeats):
            big.append(store.block(n))
            small.append(reference.block(n))
        ratios = [b / s for b, s in zip(big, small, strict=True)]
        out[str(size)] = {
            "sessions": len(store.backend._records),
            "read_us": statistics.median(big),
            "reference_read_us": statistics.median(small),
            "vs_1k": statistics.median(ratios),
            "load_us": store.load_us(repeats),
            "rss_mib": after / 2**20,
            "rss_per_session": (after - before) / added,
            "from": size - added,
            "fill_s": fill_s,
        }
    loop.close()
    return out


def run(
    sizes: list[int], *, repeats: int = 9, block_s: float = 0.03, timeout: float = 600
) -> dict[str, Any]:
    """Run :func:`worker` in a child process and return its results."""
    import subprocess

    from .overhttp import ROOT

    args = [
        sys.executable,
        "-m",
        "benchmarks.scale",
        *map(str, sizes),
        f"--repeats={repeats}",
        f"--block={block_s}",
    ]
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale worker failed: {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv if not a.startswith("--")]
    options = dict(a[2:].split("=", 1) for a in argv if a.startswith("--"))
    result = worker(sizes, int(options.get("repeats", 9)), float(options.get("block", 0.03)))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
