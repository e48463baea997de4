"""Invalid bearer tokens count against the client like forged cookies (AN-01)."""

from __future__ import annotations

import pytest

from sessionware.backends import MemoryBackend
from sessionware.config import GuardConfig
from sessionware.tokens import TokenService
from sessionware.tokens.keys import generate_keypair


@pytest.fixture(scope="module")
def private_key() -> str:
    return generate_keypair("EdDSA")[0]


def test_invalid_tokens_get_the_forwarded_client_blocked(make, kind, private_key) -> None:
    """Garbage bearer tokens through a trusted proxy block the real client, reported once each."""
    seen = []
    sink = seen.append
    service = TokenService(
        MemoryBackend(),
        keys={"k1": private_key},
        issuer="https://api",
        audience="app",
        on_event=sink,
    )
    h = make(
        kind,
        tokens=service,
        transport="both",
        on_event=sink,
        trusted_proxies=["10.0.0.2"],
        guard=GuardConfig(bad_limit=5),
    )
    statuses = []
    for i in range(8):
        headers = {"authorization": f"Bearer not.a.token{i}", "x-forwarded-for": "198.51.100.7"}
        statuses.append(h.request("/", client="10.0.0.2", headers=headers).status)
    assert statuses == [401] * 5 + [429] * 3  # the 6th starts the block and is refused
    invalid = [e for e in seen if e.kind == "token_invalid"]
    assert len(invalid) == 8  # one callback per event, not one per layer
    assert {e.client for e in invalid} == {"198.51.100.7"}
    alarm = next(e for e in seen if e.kind == "brute_force")
    assert alarm.client == "198.51.100.7"
    other = {"x-forwarded-for": "203.0.113.9"}
    assert h.request("/", client="10.0.0.2", headers=other).status == 200


def test_one_invalid_token_repeated_counts_once(make, kind, private_key) -> None:
    """An app retrying one bad token on many parallel requests is not a guesser (#13)."""
    service = TokenService(
        MemoryBackend(), keys={"k1": private_key}, issuer="https://api", audience="app"
    )
    h = make(kind, tokens=service, transport="both", guard=GuardConfig(bad_limit=3))
    headers = {"authorization": "Bearer not.a.token"}
    assert {h.request("/", headers=headers).status for _ in range(20)} == {401}
    assert "brute_force" not in h.kinds()


def test_expired_tokens_of_ours_do_not_count(make, kind, private_key) -> None:
    """An access token we signed that merely expired is stale, not forged: never a block."""
    service = TokenService(
        MemoryBackend(),
        keys={"k1": private_key},
        issuer="https://api",
        audience="app",
        clock=lambda: 1_000_000.0,
    )
    h = make(kind, tokens=service, transport="both", guard=GuardConfig(bad_limit=2))
    old = [service.issue("alice").access_token for _ in range(6)]
    service._clock = lambda: 1_000_000.0 + 3600.0
    for token in old:
        assert h.request("/", headers={"authorization": f"Bearer {token}"}).status == 401
    assert "brute_force" not in h.kinds()
