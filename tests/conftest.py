"""Fixtures shared by every test area: a secret, a hand-moved clock, a memory backend.

Service fixtures (Redis, PostgreSQL) live in the conftest of the area that needs them.
"""

from __future__ import annotations

import pytest

from sessionware.backends import MemoryBackend
from sessionware.testing import FakeClock
from tests.defence_switches import apply_from_env

# SESSIONWARE_TEST_DEFENCE_OFF=csrf,... switches defences off for the whole run
# (tests/test_security_matrix.py uses it to prove the cited tests notice).
apply_from_env()

#: 43 URL-safe characters, as ``secrets.token_urlsafe(32)`` would give (ID-01 sized).
SECRET = "kR3v9xQe0YwT2bN7mLp4sHz8UcJf6DaG1iOq5VtWyEk"
OLD_SECRET = "Zp2Lq8Wm4Xn6Bv0Cr3Ts9Yu1Ia5Oe7Df2Gh4Jk6Ls8N"


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def clock() -> FakeClock:
    # Starts at the real time so MemoryBackend.__len__ (which sweeps at time.time()) agrees.
    return FakeClock()


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()
