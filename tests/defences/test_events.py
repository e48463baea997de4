"""Events and metrics (AN-02, AN-04, AN-05): distinct kinds, escaped logs, no raw IDs."""

from __future__ import annotations

import logging

import pytest

from sessionware.config import GuardConfig
from sessionware.events import BAD_KINDS, KINDS

from .conftest import forged

EVIL_AGENT = "Mozilla/5.0\r\nINFO fake login ok user=admin\x1b[31mred\x1b[0m\x07"


def test_attack_kinds_are_distinct() -> None:
    """Every signal the issue names has its own kind, and bad kinds are a subset."""
    named = {
        "bad_signature",
        "unknown_id",
        "expired",
        "url_id",
        "cookie_tossing",
        "brute_force",
        "flood",
        "binding_mismatch",
        "token_reuse",
        "csrf",
        "backend_down",
        "created",
        "login",
        "regenerated",
        "logout",
        "revoked",
    }
    assert named <= KINDS
    assert BAD_KINDS <= KINDS


def test_user_agent_with_cr_lf_and_ansi_is_escaped_in_the_log(make, kind, caplog) -> None:
    """A user agent carrying CR/LF and ANSI escapes cannot forge or colour a log line."""
    h = make(kind)
    cookie = h.request("/login").cookie()
    with caplog.at_level(logging.WARNING, logger="sessionware.security"):
        resp = h.request(
            "/form",
            method="POST",
            cookie=cookie,
            agent=EVIL_AGENT,
            headers={"origin": "https://evil.example"},
        )
    assert resp.status == 403
    (record,) = [r for r in caplog.records if r.getMessage().startswith("csrf")]
    line = record.getMessage()
    assert "\r" not in line and "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert "\\x0d\\x0aINFO fake login" in line
    assert "\\x1b[31mred" in line
    assert record.sessionware_event["detail"]["agent"] == EVIL_AGENT  # structured field: raw


def test_no_raw_session_id_reaches_the_log(make, kind, caplog) -> None:
    """Across login, bad cookies, a block and binding events, no cookie value is ever logged."""
    h = make(kind, guard=GuardConfig(bad_limit=3))
    with caplog.at_level(logging.DEBUG, logger="sessionware.security"):
        cookie = h.request("/login").cookie()
        h.request("/", cookie=cookie, client="198.51.100.1")  # binding_mismatch
        forged = [cookie[:-4] + tail for tail in ("AAAA", "AAAB", "AAAC", "AAAD")]
        forged += [cookie + "x", cookie.split(".")[0]]
        for value in forged * 2:
            h.request("/", cookie=value, client="198.51.100.9")
    text = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert {"login", "binding_mismatch", "bad_signature", "brute_force"} <= set(h.kinds())
    session_id = cookie.split(".")[0]
    assert session_id not in text
    for value in forged:
        assert value not in text


def test_prometheus_counts_events_by_kind_only(make, kind) -> None:
    """``PrometheusEvents`` counts per kind (bounded labels) and passes events on."""
    prometheus_client = pytest.importorskip("prometheus_client")
    from sessionware.defences.metrics import GuardCollector, PrometheusEvents

    registry = prometheus_client.CollectorRegistry()
    seen = []
    counter = PrometheusEvents(registry, then=seen.append)
    h = make(kind, on_event=counter, guard=GuardConfig(bad_limit=2))
    registry.register(GuardCollector(h.mw))
    for _ in range(5):
        h.request("/", cookie=forged(), client="198.51.100.7")
    value = registry.get_sample_value
    assert value("sessionware_events_total", {"kind": "bad_signature"}) == 5
    assert value("sessionware_events_total", {"kind": "brute_force"}) == 1
    assert value("sessionware_events_total", {"kind": "flood"}) == 0
    assert value("sessionware_guard_refused_total", {"reason": "blocked"}) == 3
    assert value("sessionware_guard_blocked_clients") == 1
    assert len(seen) == 6
    labels = {s.labels.get("kind") for m in registry.collect() for s in m.samples}
    assert labels - {None} <= KINDS
