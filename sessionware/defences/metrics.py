"""Prometheus metrics for security events and the guard (extra ``metrics``).

Labels are bounded on purpose: events are counted by ``kind`` only (a fixed
set, :data:`~sessionware.events.KINDS`), never by client, user or path,
which an attacker could vary to blow up the time-series database.
``prometheus_client`` is imported when a class here is built, so importing
this module costs nothing and a missing extra fails with a clear message::

    from sessionware.defences.metrics import GuardCollector, PrometheusEvents

    app = SessionMiddleware(app, secret_keys=[...], on_event=PrometheusEvents())
    prometheus_client.REGISTRY.register(GuardCollector(app))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtra
from ..events import KINDS, Event, EventSink

if TYPE_CHECKING:
    from .guard import Guard

__all__ = ["GuardCollector", "PrometheusEvents"]


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise MissingExtra("metrics", "prometheus_client") from exc
    return prometheus_client


class PrometheusEvents:
    """An ``on_event`` callback counting ``sessionware_events_total{kind=...}``.

    Every kind starts at zero, so alerts on ``rate(...{kind="brute_force"})``
    work before the first attack.

    :param registry: where to register (default: the global registry).
    :param then: another callback to pass each event on to.

    .. versionadded:: 0.1
    """

    def __init__(self, registry: Any = None, *, then: EventSink | None = None) -> None:
        prometheus = _prometheus()
        kwargs = {} if registry is None else {"registry": registry}
        self.counter = prometheus.Counter(
            "sessionware_events", "Session security and lifecycle events.", ["kind"], **kwargs
        )
        for kind in sorted(KINDS):
            self.counter.labels(kind)
        self.then = then

    def __call__(self, event: Event) -> None:
        self.counter.labels(event.kind).inc()
        if self.then is not None:
            self.then(event)


class GuardCollector:
    """A collector for what the guard does without events: refused requests and table sizes.

    Blocked requests raise no event each (one ``brute_force`` marks the
    block), so their count comes from here:
    ``sessionware_guard_refused_total{reason="blocked"|"flood"}``,
    ``sessionware_guard_clients`` and ``sessionware_guard_blocked_clients``.

    :param source: a ``SessionMiddleware``/``WSGISessionMiddleware`` or a :class:`Guard`.

    .. versionadded:: 0.1
    """

    def __init__(self, source: Any) -> None:
        _prometheus()
        shared = getattr(source, "shared", None)
        self.guard: Guard | None = shared.guard if shared is not None else source

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        guard = self.guard
        if guard is None:
            return
        refused = CounterMetricFamily(
            "sessionware_guard_refused", "Requests answered 429 by the guard.", labels=["reason"]
        )
        refused.add_metric(["blocked"], guard.refused_blocked)
        refused.add_metric(["flood"], guard.refused_flood)
        yield refused
        yield GaugeMetricFamily(
            "sessionware_guard_clients",
            "Clients the guard holds counters for.",
            value=guard.entries() - guard.blocked(),
        )
        yield GaugeMetricFamily(
            "sessionware_guard_blocked_clients", "Clients blocked now.", value=guard.blocked()
        )
