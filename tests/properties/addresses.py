"""A fresh client address per property-test example.

The guard blocks a client after about 20 bad requests; examples that all came
from one address would mostly test its 429 instead of the parser behind it.
"""

from __future__ import annotations

import itertools

__all__ = ["fresh_client"]

_addresses = itertools.count(1)


def fresh_client() -> str:
    """An IPv4 address in 10.0.0.0/8 that no earlier example in this process used."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
