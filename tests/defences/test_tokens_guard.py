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
    headers = {"authorization": "Bearer not.a.token", "x-forwarded-for": "198.51.100.7"}
    statuses = [h.request("/", client="10.0.0.2", headers=headers).status for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3  # the 6th starts the block and is refused
    invalid = [e for e in seen if e.kind == "token_invalid"]
    assert len(invalid) == 8  # one callback per event, not one per layer
    assert {e.client for e in invalid} == {"198.51.100.7"}
    alarm = next(e for e in seen if e.kind == "brute_force")
    assert alarm.client == "198.51.100.7"
    other = {"x-forwarded-for": "203.0.113.9"}
    assert h.request("/", client="10.0.0.2", headers=other).status == 200
