"""Refresh tokens and session life (TK-06..TK-10, EX-03)."""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading

import pytest

from sessionware import SessionManager
from sessionware.errors import ConfigError, InvalidToken, TokenReused
from sessionware.records import Record


def live(service, handle, clock) -> Record | None:
    return service.backend.load_handle(handle, clock())


def rotate(service, pair, times):
    chain = [pair]
    for _ in range(times):
        chain.append(service.refresh(chain[-1].refresh_token))
    return chain


# -- TK-06 short-lived access, revocation -----------------------------------------------


def test_tk06_access_token_is_short_lived_and_carries_the_handle(service, clock) -> None:
    """The access token lives access_ttl (5 min) and names its session by handle."""
    pair = service.issue("alice")
    claims = service.verify(pair.access_token).claims
    assert claims["exp"] - claims["iat"] == pair.expires_in == 300
    assert claims["sid"] == pair.handle and claims["sub"] == "alice"


def test_tk06_access_ttl_above_an_hour_refused(make_service) -> None:
    """A long-lived access token is a configuration error (revocation would lag)."""
    with pytest.raises(ConfigError, match="access_ttl"):
        make_service(access_ttl=7200)


def test_tk06_revoke_kills_refresh_at_once(service) -> None:
    """After revoke(handle) the refresh chain is dead on the very next call."""
    pair = service.issue("alice")
    assert service.revoke(pair.handle) is True
    with pytest.raises(InvalidToken, match="revoked"):
        service.refresh(pair.refresh_token)
    assert service.revoke(pair.handle) is False


def test_tk06_revoked_access_token_lives_until_its_ttl(service, clock) -> None:
    """Without the revocation check, an access token outlives revoke by at most access_ttl."""
    pair = service.issue("alice")
    service.revoke(pair.handle)
    assert service.verify(pair.access_token).user_id == "alice"
    clock.advance(300 + 5)
    with pytest.raises(InvalidToken, match="expired"):
        service.verify(pair.access_token)


def test_tk06_check_revocation_rejects_at_once(make_service, clock, events) -> None:
    """With check_revocation, a session revoked here fails verify immediately."""
    service = make_service(check_revocation=True)
    pair = service.issue("alice")
    assert service.verify(pair.access_token).handle == pair.handle
    service.revoke(pair.handle)
    with pytest.raises(InvalidToken, match="session revoked"):
        service.verify(pair.access_token)
    assert events[-1].kind == "token_invalid" and events[-1].handle == pair.handle


def test_tk06_check_revocation_sees_other_workers_within_cache_ttl(make_service, clock) -> None:
    """A revocation by another worker is seen once the 1 s cache entry has aged out."""
    service = make_service(check_revocation=True)
    other_worker = make_service()
    pair = service.issue("alice")
    service.verify(pair.access_token)
    SessionManager(other_worker.backend, clock=clock).revoke(pair.handle)
    clock.advance(1.0)
    with pytest.raises(InvalidToken, match="session revoked"):
        service.verify(pair.access_token)


async def test_tk06_averify_checks_revocation_on_the_async_face(make_service) -> None:
    """averify performs the revocation check through the backend's async face."""
    service = make_service(check_revocation=True, revocation_cache_ttl=0)
    pair = await service.aissue("alice")
    assert (await service.averify(pair.access_token)).user_id == "alice"
    assert await service.arevoke(pair.handle) is True
    with pytest.raises(InvalidToken, match="session revoked"):
        await service.averify(pair.access_token)


def test_tk06_token_sessions_are_listed_and_revoked_with_cookie_sessions(service, clock) -> None:
    """SessionManager lists token sessions (kind "token") and revoke_user ends their chains."""
    user = f"alice-{secrets.token_hex(4)}"  # unique: shared stores keep other runs' users
    first = service.issue(user, info={"ip": "203.0.113.9", "agent": "ExampleApp/1.0 iOS"})
    second = service.issue(user)
    manager = SessionManager(service.backend, clock=clock)
    listed = manager.list_sessions(user)
    assert {s.handle for s in listed} == {first.handle, second.handle}
    assert {s.kind for s in listed} == {"token"}
    assert {s.handle: s.ip for s in listed}[first.handle] == "203.0.113.9"
    assert manager.revoke_user(user, keep=second.handle) == 1
    with pytest.raises(InvalidToken):
        service.refresh(first.refresh_token)
    assert service.refresh(second.refresh_token).handle == second.handle


# -- TK-07 opaque, random, hashed, single-use -------------------------------------------


def test_tk07_refresh_token_is_opaque_random_and_stored_hashed(service, clock) -> None:
    """The token carries >= 256 random bits and neither it nor its secret is in the store."""
    pair = service.issue("alice", claims={"plan": "pro"})
    handle, body = pair.refresh_token.split(".")
    assert handle == pair.handle and len(base64.urlsafe_b64decode(body)) * 8 >= 256 + 128
    record = live(service, pair.handle, clock)
    dump = repr(record) + repr(record.extra) + repr(record.data)
    assert pair.refresh_token not in dump and body not in dump and body[:22] not in dump
    assert service.issue("alice").refresh_token != pair.refresh_token


def test_tk07_refresh_rotates_and_the_old_token_is_single_use(service) -> None:
    """Each refresh returns a new refresh token for the same session; the old one is spent."""
    pair = service.issue("alice", claims={"plan": "pro"})
    new = service.refresh(pair.refresh_token)
    assert new.handle == pair.handle and new.refresh_token != pair.refresh_token
    assert service.verify(new.access_token).claims["plan"] == "pro"
    with pytest.raises(TokenReused):
        service.refresh(pair.refresh_token)


def test_tk07_refresh_keeps_auth_time(service, clock) -> None:
    """A refresh does not count as authentication: auth_time stays the login time (TM-07)."""
    login = clock()
    pair = service.issue("alice")
    clock.advance(3600)
    new = service.refresh(pair.refresh_token)
    assert service.verify(new.access_token).auth_time == int(login)


# -- TK-08 reuse detection --------------------------------------------------------------


def test_tk08_generation_1_after_three_rotations_revokes_the_session(
    service, clock, events
) -> None:
    """Presenting generation 1 after three rotations revokes the session and its newest token."""
    chain = rotate(service, service.issue("alice"), 3)
    with pytest.raises(TokenReused):
        service.refresh(chain[0].refresh_token)
    assert live(service, chain[0].handle, clock) is None
    with pytest.raises(InvalidToken, match="revoked"):
        service.refresh(chain[3].refresh_token)
    reuse = [e for e in events if e.kind == "token_reuse"]
    assert len(reuse) == 1 and reuse[0].handle == chain[0].handle and reuse[0].user_id == "alice"


def test_tk08_immediately_previous_token_is_reuse_without_grace(service, clock) -> None:
    """With reuse_grace=0 (default) even the token rotated out last triggers revocation."""
    chain = rotate(service, service.issue("alice"), 1)
    with pytest.raises(TokenReused):
        service.refresh(chain[0].refresh_token)
    assert live(service, chain[0].handle, clock) is None


def test_tk08_forged_token_with_a_known_handle_does_not_revoke(service, clock) -> None:
    """Handles are public: a made-up token for a real handle is refused and changes nothing."""
    pair = service.issue("alice")
    forged = f"{pair.handle}.{'A' * 64}"
    with pytest.raises(InvalidToken, match="unknown refresh token"):
        service.refresh(forged)
    assert live(service, pair.handle, clock) is not None
    assert service.refresh(pair.refresh_token).handle == pair.handle


def test_tk08_refresh_token_of_a_cookie_session_handle_is_refused(service, clock) -> None:
    """A refresh token aimed at a cookie session's handle is refused; the session is untouched."""
    from sessionware.records import Create

    cookie = Record("k" * 64, "cookiehandle", clock(), clock(), clock() + 60, clock() + 60, "bob")
    service.backend.apply([Create(cookie)], clock())
    with pytest.raises(InvalidToken):
        service.refresh(f"cookiehandle.{'A' * 64}")
    assert live(service, "cookiehandle", clock) is not None


# -- TK-09 grace window -----------------------------------------------------------------


def test_tk09_grace_allows_only_the_immediately_previous_token(make_service, clock) -> None:
    """Within reuse_grace the previous token re-rotates; two generations back is still reuse."""
    service = make_service(reuse_grace=30)
    chain = rotate(service, service.issue("alice"), 2)
    clock.advance(10)
    again = service.refresh(chain[1].refresh_token)
    assert service.verify(again.access_token).handle == chain[0].handle
    with pytest.raises(TokenReused):
        service.refresh(chain[0].refresh_token)


def test_tk09_grace_re_rotation_kills_the_replaced_token(make_service) -> None:
    """After a grace re-rotation the token it replaced counts as reuse: never two live chains."""
    service = make_service(reuse_grace=30)
    first = service.issue("alice")
    lost = service.refresh(first.refresh_token)  # response lost in transit
    retry = service.refresh(first.refresh_token)
    assert retry.refresh_token != lost.refresh_token
    with pytest.raises(TokenReused):
        service.refresh(lost.refresh_token)


def test_tk09_grace_window_is_measured_from_rotation_and_never_slides(make_service, clock) -> None:
    """Re-presenting the previous token inside the window does not extend it."""
    service = make_service(reuse_grace=30)
    first = service.issue("alice")
    service.refresh(first.refresh_token)
    clock.advance(20)
    service.refresh(first.refresh_token)
    clock.advance(11)
    with pytest.raises(TokenReused):
        service.refresh(first.refresh_token)


@pytest.mark.parametrize("grace", [61, -1])
def test_tk09_grace_is_capped_at_60_seconds(make_service, grace) -> None:
    """reuse_grace outside 0-60 s is a configuration error."""
    with pytest.raises(ConfigError, match="reuse_grace"):
        make_service(reuse_grace=grace)


# -- TK-10 concurrency ------------------------------------------------------------------


def test_tk10_concurrent_refresh_threads_exactly_one_succeeds(service) -> None:
    """20 threads refreshing one token at once: exactly one gets a pair."""
    pair = service.issue("alice")
    barrier = threading.Barrier(20)
    outcomes: list[object] = []

    def worker() -> None:
        barrier.wait()
        try:
            outcomes.append(service.refresh(pair.refresh_token))
        except (InvalidToken, TokenReused) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1


async def test_tk10_concurrent_refresh_asyncio_exactly_one_succeeds(service) -> None:
    """20 arefresh calls gathered on one token: exactly one gets a pair."""
    pair = await service.aissue("alice")
    outcomes = await asyncio.gather(
        *(service.arefresh(pair.refresh_token) for _ in range(20)), return_exceptions=True
    )
    assert all(
        isinstance(o, InvalidToken | TokenReused) or hasattr(o, "access_token") for o in outcomes
    )
    assert sum(hasattr(o, "access_token") for o in outcomes) == 1


class InterleavingBackend:
    """Delegates to a real backend but lets every load finish before any write runs."""

    def __init__(self, inner, readers: int) -> None:
        self.inner = inner
        self.loaded = asyncio.Barrier(readers)

    async def aload_handle(self, handle, now):
        record = await self.inner.aload_handle(handle, now)
        await self.loaded.wait()
        return record

    async def aapply(self, ops, now):
        return await self.inner.aapply(ops, now)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_tk10_compare_and_set_decides_between_racing_refreshes(make_service, backend) -> None:
    """When 20 refreshes all read the current token first, the CAS picks one and revokes nothing."""
    service = make_service(backend=InterleavingBackend(backend, 20))
    pair = await service.aissue("alice")
    outcomes = await asyncio.gather(
        *(service.arefresh(pair.refresh_token) for _ in range(20)), return_exceptions=True
    )
    winners = [o for o in outcomes if hasattr(o, "access_token")]
    assert len(winners) == 1
    assert all(
        isinstance(o, InvalidToken) and o.reason == "refresh token already used"
        for o in outcomes
        if o is not winners[0]
    )
    checker = make_service()
    assert checker.refresh(winners[0].refresh_token).handle == pair.handle


# -- refresh limits (EX-03) -------------------------------------------------------------


def test_refresh_idle_limit_ends_an_unused_chain(make_service, clock) -> None:
    """A refresh token unused for longer than refresh_idle_ttl is refused."""
    service = make_service(refresh_idle_ttl=3600, refresh_absolute_ttl=7200)
    pair = service.issue("alice")
    clock.advance(3601)
    with pytest.raises(InvalidToken, match="expired"):
        service.refresh(pair.refresh_token)


def test_refresh_absolute_limit_ends_even_an_active_chain(make_service, clock) -> None:
    """Refreshing often slides the idle limit but never past refresh_absolute_ttl (ASVS 10.4.8)."""
    service = make_service(refresh_idle_ttl=3600, refresh_absolute_ttl=3 * 3600)
    pair = service.issue("alice")
    end = int(clock()) + 3 * 3600
    while clock() + 2400 < end:
        clock.advance(2400)
        pair = service.refresh(pair.refresh_token)
    clock.now = end - 100
    pair = service.refresh(pair.refresh_token)
    assert service.verify(pair.access_token).expires_at == end  # capped at the session's end
    clock.now = end + 1
    with pytest.raises(InvalidToken, match="expired"):
        service.refresh(pair.refresh_token)
