"""Defences: the guard and its counters, CSRF, client-address resolution, metrics.

These sit above the engine: they read the facts the adapters build and the
events the engine raises, and they decide nothing the engine must know.
The core never imports this package; the adapters wire it in.

- :mod:`~sessionware.defences.client_address`: who the client is, behind trusted proxies.
- :mod:`~sessionware.defences.counters`: counters shared across processes (memory or Redis).
- :mod:`~sessionware.defences.guard`: brute-force blocking of forged credentials, bounded state.
- :mod:`~sessionware.defences.flood`: the per-address anonymous-session limit (it evicts).
- :mod:`~sessionware.defences.csrf`: the Origin / Sec-Fetch-Site check, login CSRF included (CS-01).
- :mod:`~sessionware.defences.metrics`: Prometheus counters of events.
"""

from __future__ import annotations

__all__: list[str] = []
