"""A stateful model of token sessions (hypothesis RuleBasedStateMachine).

Clients are issued token pairs, refresh them, replay old refresh tokens,
forge tokens with a known handle, get revoked (one session or a whole user)
and wait.  After every step the machine checks:

* a refresh token that was rotated, or belongs to a revoked or expired
  session, never refreshes again (TK-07, TK-08, ASVS 5.0 7.4.1, 10.4.5);
* replaying a rotated token revokes that session and only that session;
  a forged token with a known handle changes nothing (TK-08);
* no token session outlives its absolute limit, sliding or not (EX-03,
  ASVS 5.0 10.4.8);
* an access token verifies until its ``exp`` and never after; with
  ``check_revocation`` it dies with its session (TK-06).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionware import SessionManager
from sessionware.backends import MemoryBackend
from sessionware.errors import InvalidToken, TokenError, TokenReused
from sessionware.testing import FakeClock
from sessionware.tokens import TokenService

ACCESS = 300
IDLE = 1000
ABSOLUTE = 3000
START = 1_800_000_000


@dataclass
class Family:
    handle: str
    user: str
    current: str
    absolute_at: float
    expires_at: float
    rotated: list[str] = field(default_factory=list)
    access: list[tuple[str, int]] = field(default_factory=list)
    revoked: bool = False


class TokenLifecycle(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.clock = FakeClock(START)
        self.backend = MemoryBackend()
        common = {
            "keys": {"k": b"m" * 32},
            "algorithm": "HS256",
            "issuer": "https://issuer.test",
            "audience": "model",
            "access_ttl": ACCESS,
            "refresh_idle_ttl": IDLE,
            "refresh_absolute_ttl": ABSOLUTE,
            "leeway": 0,
            "clock": self.clock,
        }
        self.service = TokenService(self.backend, **common)
        self.strict = TokenService(
            self.backend, check_revocation=True, revocation_cache_ttl=0, **common
        )
        self.manager = SessionManager(self.backend, clock=self.clock)
        self.families: list[Family] = []

    def _live(self, fam: Family) -> bool:
        now = self.clock()
        return not fam.revoked and now < fam.expires_at and now < fam.absolute_at

    def _pick(self, index: int) -> Family:
        return self.families[index % len(self.families)]

    @rule(user=st.sampled_from(["u1", "u2"]))
    def issue(self, user: str) -> None:
        now = self.clock()
        pair = self.service.issue(user)
        exp = int(now) + ACCESS
        self.families.append(
            Family(
                handle=pair.handle,
                user=user,
                current=pair.refresh_token,
                absolute_at=now + ABSOLUTE,
                expires_at=now + IDLE,
                access=[(pair.access_token, exp)],
            )
        )

    @precondition(lambda self: self.families)
    @rule(i=st.integers(0, 50))
    def refresh(self, i: int) -> None:
        fam = self._pick(i)
        now = self.clock()
        if not self._live(fam):
            with pytest.raises(InvalidToken) as caught:
                self.service.refresh(fam.current)
            assert not isinstance(caught.value, TokenReused)
            fam.revoked = True
            return
        pair = self.service.refresh(fam.current)
        assert pair.handle == fam.handle
        fam.rotated.append(fam.current)
        fam.current = pair.refresh_token
        fam.expires_at = min(now + IDLE, fam.absolute_at)
        fam.access.append((pair.access_token, min(int(now) + ACCESS, int(fam.absolute_at))))

    @precondition(lambda self: any(f.rotated for f in self.families))
    @rule(i=st.integers(0, 50), j=st.integers(0, 50))
    def replay(self, i: int, j: int) -> None:
        candidates = [f for f in self.families if f.rotated]
        fam = candidates[i % len(candidates)]
        old = fam.rotated[j % len(fam.rotated)]
        live = self._live(fam)
        others = [(f, self._live(f)) for f in self.families if f is not fam]
        with pytest.raises(TokenError) as caught:
            self.service.refresh(old)
        assert isinstance(caught.value, TokenReused) == live
        fam.revoked = True
        for other, was_live in others:  # reuse revokes this family alone
            assert self._live(other) == was_live
            if was_live:
                assert self.backend.load_handle(other.handle, self.clock()) is not None

    @precondition(lambda self: self.families)
    @rule(i=st.integers(0, 50))
    def forge(self, i: int) -> None:
        fam = self._pick(i)
        live = self._live(fam)
        forged = f"{fam.handle}.{secrets.token_urlsafe(64)}"
        with pytest.raises(InvalidToken) as caught:
            self.service.refresh(forged)
        assert not isinstance(caught.value, TokenReused)
        assert (self.backend.load_handle(fam.handle, self.clock()) is not None) == live

    @precondition(lambda self: self.families)
    @rule(i=st.integers(0, 50))
    def revoke(self, i: int) -> None:
        fam = self._pick(i)
        assert self.service.revoke(fam.handle) == self._live(fam)
        fam.revoked = True

    @rule(user=st.sampled_from(["u1", "u2"]))
    def revoke_user(self, user: str) -> None:
        live = [f for f in self.families if f.user == user and self._live(f)]
        assert self.manager.revoke_user(user) == len(live)
        for fam in self.families:
            if fam.user == user:
                fam.revoked = True

    @rule(seconds=st.sampled_from([1, 120, 299, 301, 700, 999, 1001]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def dead_refresh_tokens_stay_dead(self) -> None:
        for fam in self.families:
            if self._live(fam):
                continue
            for token in (fam.current, *fam.rotated):
                with pytest.raises(TokenError):
                    self.service.refresh(token)
            assert self.backend.load_handle(fam.handle, self.clock()) is None

    @invariant()
    def live_sessions_exist_within_their_absolute_limit(self) -> None:
        now = self.clock()
        for fam in self.families:
            if not self._live(fam):
                continue
            record = self.backend.load_handle(fam.handle, now)
            assert record is not None, "a live token session vanished"
            assert now < record.absolute_at <= fam.absolute_at
            assert record.expires_at <= record.absolute_at

    @invariant()
    def access_tokens_live_until_exp_and_die_with_revocation(self) -> None:
        now = self.clock()
        for fam in self.families:
            for token, exp in fam.access:
                assert exp <= fam.absolute_at
                if now < exp:
                    assert self.service.verify(token).handle == fam.handle
                else:
                    with pytest.raises(InvalidToken):
                        self.service.verify(token)
                if not self._live(fam) or now >= exp:
                    with pytest.raises(InvalidToken):
                        self.strict.verify(token)
                else:
                    assert self.strict.verify(token).handle == fam.handle


TokenLifecycle.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestTokenLifecycle = TokenLifecycle.TestCase
