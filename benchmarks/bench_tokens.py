"""Cost of verifying an access token per request, against a cookie session read.

Run: ``PYTHONPATH=. python benchmarks/bench_tokens.py``.  Prints the median
over repeats of the per-call time in microseconds, all in one process and
one run so the ratios are meaningful.  Not collected by pytest (no timing
asserts anywhere, house rule 14).

Measured:
- ``verify`` alone (EdDSA, ES256, HS256), stateless: no backend access;
- ``verify`` with ``check_revocation`` served from the 1 s cache;
- a cookie session read on MemoryBackend: ``Engine.begin`` (signature check)
  + ``backend.load`` + ``Engine.resume``, the same work the middleware does;
- a whole ASGI request through SessionMiddleware, bearer vs cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import statistics
import time
from collections.abc import Callable

from sessionware import SessionMiddleware
from sessionware.backends import MemoryBackend
from sessionware.config import SessionConfig
from sessionware.core import Engine, RequestFacts
from sessionware.errors import InvalidToken
from sessionware.tokens import TokenService
from sessionware.tokens.keys import generate_keypair

REPEATS = 7
NUMBER = 2000


def median_us(fn: Callable[[], object], number: int = NUMBER) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def amedian_us(make: Callable[[], object], number: int = NUMBER // 4) -> float:
    async def run() -> float:
        samples = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            for _ in range(number):
                await make()  # type: ignore[misc]
            samples.append((time.perf_counter() - start) / number * 1e6)
        return statistics.median(samples)

    return asyncio.run(run())


def service(backend: MemoryBackend, algorithm: str, **kw: object) -> TokenService:
    if algorithm == "HS256":
        key: object = secrets.token_bytes(32)
    else:
        key = generate_keypair(algorithm)[0]
    return TokenService(
        backend,
        keys={"k1": key},
        algorithm=algorithm,
        issuer="https://api.example",
        audience="bench",
        **kw,
    )


def raw_primitives() -> list[tuple[str, float]]:
    """The bare signature checks, to show what verify adds on top of the crypto."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    message = b"h" * 300
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_sig, ed_pub = ed.sign(message), ed.public_key()
    p256 = ec.generate_private_key(ec.SECP256R1())
    ec_sig, ec_pub = p256.sign(message, ec.ECDSA(hashes.SHA256())), p256.public_key()
    key = secrets.token_bytes(32)
    return [
        ("  raw Ed25519 verify (cryptography)", median_us(lambda: ed_pub.verify(ed_sig, message))),
        (
            "  raw P-256 verify (cryptography)",
            median_us(lambda: ec_pub.verify(ec_sig, message, ec.ECDSA(hashes.SHA256()))),
        ),
        ("  raw HMAC-SHA256", median_us(lambda: hmac.new(key, message, hashlib.sha256).digest())),
    ]


def cookie_read(backend: MemoryBackend) -> tuple[Callable[[], object], str]:
    config = SessionConfig(secret_keys=["b" * 48])
    engine = Engine(config)
    facts = RequestFacts()
    begin = engine.begin(facts)
    session = engine.resume(begin, None, facts)
    session.login("alice")
    session["cart"] = [1, 2, 3]
    commit = engine.commit(session, 200, facts)
    backend.apply(commit.ops, engine.clock())
    headers, _ = engine.finish(commit, backend.apply([], engine.clock()), facts)
    cookie = next(v for k, v in headers if k.lower() == "set-cookie").split(";", 1)[0]
    read_facts = RequestFacts(cookie=cookie)

    def read() -> object:
        b = engine.begin(read_facts)
        record = backend.load(b.key, engine.clock()) if b.key else None
        s = engine.resume(b, record, read_facts)
        return s.user_id

    assert read() == "alice"
    return read, cookie


async def asgi_app(scope, receive, send):  # type: ignore[no-untyped-def]
    scope["session"].get("cart")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def asgi_request(app: SessionMiddleware, headers: list[tuple[bytes, bytes]]):  # type: ignore[no-untyped-def]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b""}

    async def send(message):  # type: ignore[no-untyped-def]
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    return lambda: app(dict(scope), receive, send)


def main() -> None:
    # Refusals are logged at WARNING; keep the terminal out of the measurement.
    logging.getLogger("sessionware.security").setLevel(logging.ERROR)
    backend = MemoryBackend()
    rows: list[tuple[str, float]] = []
    for algorithm in ("EdDSA", "ES256", "HS256"):
        svc = service(backend, algorithm)
        token = svc.issue("alice", claims={"plan": "pro"}).access_token
        rows.append(
            (f"verify {algorithm} ({len(token)} B token)", median_us(lambda: svc.verify(token)))
        )
        rows.append(
            (f"issue {algorithm} (record + sign)", median_us(lambda: svc.issue("bob"), 500))
        )
    rows.extend(raw_primitives())
    svc = service(backend, "EdDSA", check_revocation=True)
    token = svc.issue("alice").access_token
    rows.append(("verify EdDSA + check_revocation (cached)", median_us(lambda: svc.verify(token))))
    rows.append(
        ("verify rejecting a 10 KB token", median_us(lambda: _refuse(svc, "A." * 5000 + "A")))
    )
    read, cookie = cookie_read(backend)
    rows.append(("cookie session read (begin+load+resume)", median_us(read)))

    tokens = service(backend, "EdDSA")
    app = SessionMiddleware(asgi_app, secret_keys=["b" * 48], backend=backend, tokens=tokens)
    access = tokens.issue("alice", claims={"cart": [1]}).access_token
    rows.append(
        (
            "ASGI request, bearer EdDSA",
            amedian_us(asgi_request(app, [(b"authorization", f"Bearer {access}".encode())])),
        )
    )
    rows.append(
        ("ASGI request, cookie", amedian_us(asgi_request(app, [(b"cookie", cookie.encode())])))
    )
    base = dict(rows)["cookie session read (begin+load+resume)"]
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.1f} us  {us / base:5.2f}x cookie read")


def _refuse(svc: TokenService, token: str) -> None:
    with contextlib.suppress(InvalidToken):
        svc.verify(token)


if __name__ == "__main__":
    main()
