"""What a token session leaves in the store and shows in session lists (TK-07, EX-03).

Records outlive a deploy: a worker of the next version reads what this one
wrote, and admins read ``list_sessions``.  So the stored fields documented
in docs/tokens.md (``kind fam rt rt_prev rt_at gen claims``) are a format,
pinned here with their meaning, and so is the ``SessionInfo`` of a token
session.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable
from typing import Any

from sessionware import SessionManager
from sessionware.records import Create, Record
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService
from sessionware.tokens.refresh import new_session, parse

Make = Callable[..., TokenService]

DOCUMENTED_FIELDS = {"kind", "fam", "rt", "rt_prev", "rt_at", "gen", "claims"}


def stored(service: TokenService, handle: str, clock: FakeClock) -> Record:
    record: Record | None = service.backend.load_handle(handle, clock())
    assert record is not None
    return record


def digest(refresh_token: str) -> str:
    """The hash the store keeps for ``refresh_token``."""
    token = parse(refresh_token)
    assert token is not None
    return token.digest


def test_a_new_token_session_stores_the_documented_fields(
    service: TokenService, clock: FakeClock
) -> None:
    """Before any refresh: current hash, empty previous, rotated-at login, generation 0."""
    login = clock()
    pair = service.issue("alice", claims={"plan": "pro"})
    token = parse(pair.refresh_token)
    assert token is not None
    extra = stored(service, pair.handle, clock).extra
    assert set(extra) == DOCUMENTED_FIELDS
    assert extra["kind"] == "token"
    assert extra["fam"] == token.family_digest
    assert extra["rt"] == token.digest
    assert extra["rt_prev"] == ""
    assert extra["rt_at"] == login
    assert extra["gen"] == 0
    assert json.loads(extra["claims"]) == {"plan": "pro"}


def test_gen_counts_every_rotation_including_grace_re_rotations(
    make_service: Make, clock: FakeClock
) -> None:
    """``gen`` is the number of rotations so far; a grace retry is a rotation too."""
    service = make_service(reuse_grace=30)
    pair = service.issue("alice")
    for expected in (1, 2, 3):
        clock.advance(5)
        previous = pair
        pair = service.refresh(pair.refresh_token)
        extra = stored(service, pair.handle, clock).extra
        assert extra["gen"] == expected
        assert extra["rt_prev"] == digest(previous.refresh_token)
        assert extra["rt_at"] == clock()
    rotated_at = clock()
    clock.advance(5)
    retry = service.refresh(previous.refresh_token)  # grace: previous of generation 3
    extra = stored(service, retry.handle, clock).extra
    assert extra["gen"] == 4
    assert extra["rt"] == digest(retry.refresh_token)
    assert extra["rt_prev"] == digest(previous.refresh_token)
    assert extra["rt_at"] == rotated_at  # the window does not slide


def test_a_record_without_gen_still_rotates_and_starts_counting(
    service: TokenService, clock: FakeClock
) -> None:
    """A record lacking ``gen`` (hand-made, or from a store edited by a tool) refreshes to gen 1."""
    now = clock()
    record, token = new_session(
        f"carol-{secrets.token_hex(4)}", "{}", {}, now, idle=3600, absolute=7200
    )
    extra: dict[str, Any] = {k: v for k, v in record.extra.items() if k != "gen"}
    service.backend.apply([Create(dataclasses.replace(record, extra=extra))], now)
    clock.advance(1)
    pair = service.refresh(token.text)
    assert pair.handle == record.handle
    assert stored(service, record.handle, clock).extra["gen"] == 1


def test_a_token_session_is_listed_as_a_remembered_session_active_at_login(
    make_service: Make, clock: FakeClock
) -> None:
    """list_sessions shows login as created, authenticated and last active; remember is on."""
    service = make_service(refresh_idle_ttl=3600, refresh_absolute_ttl=7200)
    user = f"dave-{secrets.token_hex(4)}"  # unique: shared stores keep other runs' users
    login = clock()
    pair = service.issue(user)
    manager = SessionManager(service.backend, clock=clock)
    (info,) = manager.list_sessions(user)
    assert info.handle == pair.handle and info.kind == "token"
    assert info.remember is True
    assert info.created_at == info.last_active == info.auth_time == login
    assert info.expires_at == login + 3600
    assert info.absolute_at == login + 7200
    clock.advance(100)
    service.refresh(pair.refresh_token)
    (info,) = manager.list_sessions(user)
    assert info.last_active == login + 100 and info.auth_time == login
    assert info.expires_at == login + 100 + 3600
