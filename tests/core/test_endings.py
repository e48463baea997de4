"""End reasons in the engine alone (FakeClock, memory store): config, judging, the guard (#17)."""

from __future__ import annotations

import pytest

from sessionware import ConfigError, SessionConfig
from sessionware.cli.audit import audit
from sessionware.config import GuardConfig
from sessionware.defences.guard import Guard
from sessionware.endings import Ending, explain, judge
from sessionware.events import Event
from sessionware.records import Record, Tombstone, ended
from sessionware.testing import FakeClock

SECRET = "engine-secret-0123456789-0123456789-abcdef"


def record(now: float, **kw: object) -> Record:
    fields: dict[str, object] = {
        "key": "k1", "handle": "h1", "created_at": now, "last_active": now,
        "expires_at": now + 600, "absolute_at": now + 3600, "user_id": "ann",
    }  # fmt: skip
    fields.update(kw)
    return Record(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"on_stale_reuse": "kill"}, id="policy"),
        pytest.param({"rotation_grace": -1}, id="negative-grace"),
        pytest.param({"tombstone_timeout": "7d"}, id="timeout-type"),
    ],
)
def test_bad_settings_are_config_errors(fields: dict[str, object]) -> None:
    """on_stale_reuse, rotation_grace and tombstone_timeout are validated at construction."""
    with pytest.raises(ConfigError):
        SessionConfig(secret_keys=[SECRET], **fields)  # type: ignore[arg-type]


def test_zero_turns_grace_and_tombstones_off() -> None:
    """0 is accepted for both durations (the feature off), unlike other timeouts."""
    cfg = SessionConfig(secret_keys=[SECRET], rotation_grace=0, tombstone_timeout=0)
    assert cfg.grace_s == 0 and cfg.tombstone_s == 0


def test_audit_warns_about_a_long_grace_window() -> None:
    """A grace window of minutes keeps rotated-away IDs usable: the audit says so."""
    cfg = SessionConfig(secret_keys=[SECRET + "xyz"], rotation_grace=600)
    assert any(f.status == "WARN" and "rotation_grace" in f.message for f in audit(cfg))


def test_an_explicit_rotation_is_never_served_even_inside_the_window() -> None:
    """login()/regenerate() tombstones have no grace: judging one never serves the successor."""
    clock = FakeClock()
    cfg = SessionConfig(secret_keys=[SECRET], rotation_grace=30)
    old, new = record(clock.now), record(clock.now, key="k2")
    tomb = ended(old, "rotated", clock.now, 3600.0, successor="k2", renewal=False)
    verdict = judge(cfg, Ending(tomb, new), clock.now + 1, "10.0.0.1")
    assert verdict.serve is None and verdict.ended is not None
    assert verdict.ended.reason == "rotated"
    assert [e.kind for e in verdict.events] == ["ended"]


def test_a_companion_turns_into_idle_or_absolute() -> None:
    """The expiry companion reads as idle before the absolute deadline, absolute after."""
    now = FakeClock().now
    tomb = Tombstone("k", "expiry", "h", "ann", None, now + 9999, absolute_at=now + 100)
    assert tomb.resolved(now + 50) == ("idle", None)
    assert tomb.resolved(now + 100) == ("absolute", now + 100)


def test_tombstone_json_round_trips_and_foreign_text_is_ignored() -> None:
    """What backends store reads back equal; anything else is not a tombstone."""
    now = FakeClock().now
    tomb = ended(record(now), "revoked", now, 60.0, by="user")
    assert Tombstone.loads("k1", tomb.dumps()) == tomb
    assert Tombstone.loads("k1", "not json") is None
    assert Tombstone.loads("k1", '{"r": "nonsense", "h": "x", "e": 1}') is None


def test_the_guard_never_counts_ended_presentations() -> None:
    """Dozens of dead cookies of one returning client do not block it; forged ones still do."""
    clock = FakeClock()
    guard = Guard(GuardConfig(bad_limit=3), clock)
    for n in range(30):
        for kind in ("ended", "expired", "logout_replay", "stale_reuse"):
            guard.observe([Event(kind, "10.0.0.1", detail={"n": n})], n)
    assert guard.retry_after("10.0.0.1") == 0
    for n in range(10):  # distinct forged values (#13: only forgeries count)
        guard.observe([Event("bad_signature", "10.0.0.2")], n)
    assert guard.retry_after("10.0.0.2") > 0


def test_explain_has_a_sentence_for_every_reason() -> None:
    """Every reason has a user-facing sentence; the idle one names the limit."""
    assert explain(None) is None
    assert explain("revoked", "user") == "You were signed out from another device."
    assert explain("idle", None, 1800) == "Your session expired after 30 minutes of inactivity."
    for reason in ("logout", "evicted", "binding", "absolute", "rotated", "revoked"):
        assert explain(reason)


def test_a_backend_without_tombstones_keeps_working_and_reports_unknown_ids() -> None:
    """A store without the optional capability (here a wrapper) ignores tombstones: the
    other process's logout reads as an unknown ID, this process's own as before."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from sessionware import MemoryBackend, SessionMiddleware
    from sessionware.testing import CountingBackend

    async def login(request: Request) -> PlainTextResponse:
        request.session.login("ada")
        return PlainTextResponse("ok")

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.session.end_reason))

    async def logout(request: Request) -> PlainTextResponse:
        request.session.logout()
        return PlainTextResponse("bye")

    store = CountingBackend(MemoryBackend())
    assert not getattr(store, "keeps_tombstones", False)
    routes = [Route("/login", login), Route("/me", me), Route("/logout", logout)]
    events: list[Event] = []

    def server() -> TestClient:
        app = SessionMiddleware(
            Starlette(routes=routes), secret_keys=[SECRET], backend=store,
            on_event=events.append, guard=None,
        )  # fmt: skip
        return TestClient(app, base_url="https://testserver")

    first, second = server(), server()
    first.get("/login")
    cookie = {"cookie": f"__Host-session={first.cookies['__Host-session']}"}
    first.get("/logout")
    events.clear()
    assert second.get("/me", headers=cookie).text == "None"
    assert [e.kind for e in events] == ["unknown_id"]
    events.clear()
    assert first.get("/me", headers=cookie).text == "logout"
    assert [e.kind for e in events] == ["ended", "logout_replay"]
