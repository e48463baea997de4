"""IDs under heavy demand, same-key races, and ending every session at once.

ID-09 / ASVS 5.0 11.5.2: the generator is the OS CSPRNG through ``secrets``
(``getrandom``, which never blocks once the pool is seeded), so many threads
drawing at once still get distinct full-length IDs.  CC-02: two requests
writing one key both succeed and the later commit wins.  ASVS 5.0 7.4.5:
an administrator can end all users' sessions by retiring the secret.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

from sessionware import SessionConfig
from sessionware.backends import MemoryBackend
from sessionware.core import Engine, RequestFacts
from sessionware.ids import new_id
from sessionware.records import APPLIED
from sessionware.testing import FakeClock

from ..conftest import OLD_SECRET, SECRET
from .conftest import Site


def test_ids_drawn_by_many_threads_at_once_are_distinct_and_full_length() -> None:
    """16 threads x 5,000 IDs: 80,000 distinct 32-byte values, no error, no short read."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        batches = list(pool.map(lambda _: [new_id() for _ in range(5000)], range(16)))
    ids = [i for batch in batches for i in batch]
    assert len(set(ids)) == len(ids) == 80_000
    assert {len(base64.urlsafe_b64decode(i + "=")) for i in ids} == {32}


def test_ids_come_from_the_secrets_module() -> None:
    """The generator is ``secrets.token_urlsafe`` (OS CSPRNG), not ``random`` or a UUID."""
    import inspect

    from sessionware import ids

    source = inspect.getsource(ids.new_id)
    assert "secrets.token_urlsafe(ID_BYTES)" in source and ids.ID_BYTES == 32
    assert "uuid" not in inspect.getsource(ids).lower().replace("uuids", "")


def _open(engine: Engine, backend: MemoryBackend, cookie: str):
    facts = RequestFacts(cookie=f"__Host-session={cookie}", client="192.0.2.7")
    begin = engine.begin(facts)
    record = backend.load(begin.key, engine.clock()) if begin.key else None
    return engine.resume(begin, record, facts), facts


def test_same_key_writes_from_two_requests_last_commit_wins() -> None:
    """Two in-flight requests set one key: both commits succeed, the later value stays (CC-02)."""
    clock = FakeClock()
    engine = Engine(SessionConfig(secret_keys=[SECRET]), clock=clock)
    backend = MemoryBackend()
    session, facts = _open(engine, backend, "x")
    session["color"] = "red"
    commit = engine.commit(session, 200, facts)
    assert backend.apply(commit.ops, clock()).ok
    (set_cookie,) = [v for k, v in commit.headers if k == "set-cookie"]
    cookie = set_cookie.split(";")[0].split("=", 1)[1]
    first, f1 = _open(engine, backend, cookie)
    second, f2 = _open(engine, backend, cookie)
    first["color"] = "green"
    second["color"] = "blue"
    results = []
    for session_, facts_ in ((first, f1), (second, f2)):
        ops = engine.commit(session_, 200, facts_).ops
        results.append(backend.apply(ops, clock()) if ops else APPLIED)
    assert all(r.ok for r in results)
    final, _ = _open(engine, backend, cookie)
    assert final["color"] == "blue"


def test_retiring_the_signing_secret_ends_every_cookie_session() -> None:
    """Dropping a secret from ``secret_keys`` logs out every user whose cookie it signed."""
    old = Site(secret_keys=[OLD_SECRET])
    with old.client() as alice, old.client() as bob:
        alice.post("/login", json={"user": "alice"})
        bob.post("/login", json={"user": "bob"})
        cookies = [alice.cookies["__Host-session"], bob.cookies["__Host-session"]]
    same_store = {"backend": old.backend, "clock": old.clock}
    rotated = Site(secret_keys=[SECRET, OLD_SECRET], **same_store)
    retired = Site(secret_keys=[SECRET], **same_store)
    for site, alive in ((rotated, True), (retired, False)):
        with site.client() as client:
            for cookie in cookies:
                reply = client.get("/data", headers={"cookie": f"__Host-session={cookie}"})
                assert (reply.json()["user"] is not None) == alive


def test_revocation_cache_keeps_only_answers_younger_than_its_ttl() -> None:
    """The token revocation cache drops stale answers as it goes (soak: it filled to 10,000)."""
    from sessionware.tokens.types import LiveCache

    cache = LiveCache(ttl=1.0, size=10_000)
    for i in range(5000):
        cache.put(f"h{i}", False, 1000.0 + i * 0.01)  # 100 revocations a second
    assert len(cache._items) <= 101
    assert cache.get("h4999", 1049.99) is False
    assert cache.get("h0", 1049.99) is None
    cache.put("late", True, 2000.0)
    assert list(cache._items) == ["late"]
