"""Exact answers of the CSRF policy, the binding event and the client resolver.

Mutation testing showed these details unpinned: the fields of a ``csrf`` or
``binding_mismatch`` event (what an operator's alert keys on), and how
``Forwarded`` / ``X-Forwarded-*`` chains are split, unquoted and aligned (a
wrong hop is a wrong address for the guard, or a wrong scheme for CSRF).
"""

from __future__ import annotations

import logging

import pytest

from sessionware.config import SessionConfig
from sessionware.defences.client_address import ClientResolver, Resolved, parse_ip
from sessionware.defences.csrf import CsrfPolicy
from sessionware.events import Event
from sessionware.facts import RequestFacts
from sessionware.fingerprint import binding_event, fingerprint
from sessionware.records import Record

PROXY = "10.0.0.1"
RESOLVER = ClientResolver(["10.0.0.0/8"])
SECRET = "kR3v9xQe0YwT2bN7mLp4sHz8UcJf6DaG1iOq5VtWyEk"


def _facts(**fields: object) -> RequestFacts:
    base: dict[str, object] = {
        "method": "POST",
        "path": "/pay",
        "client": "198.51.100.4",
        "user_agent": "UA",
        "scheme": "https",
        "host": "example.com",
    }
    return RequestFacts(**{**base, **fields})  # type: ignore[arg-type]


def test_csrf_event_for_a_foreign_origin_names_every_field() -> None:
    """A refused Origin gives one ``csrf`` event with the client and each detail field."""
    event = CsrfPolicy().check(_facts(origin="https://evil.example"))
    assert event is not None
    assert (event.kind, event.client) == ("csrf", "198.51.100.4")
    assert event.detail == {
        "reason": "origin",
        "method": "POST",
        "path": "/pay",
        "origin": "https://evil.example",
        "fetch_site": "-",
        "agent": "UA",
    }


def test_csrf_event_for_fetch_metadata_and_long_fields() -> None:
    """Sec-Fetch-Site gives reason ``sec-fetch-site``; path, origin-less and agent cut at 200."""
    event = CsrfPolicy().check(
        _facts(sec_fetch_site="cross-site", path="/" + "p" * 300, user_agent="u" * 300)
    )
    assert event is not None
    assert event.detail == {
        "reason": "sec-fetch-site",
        "method": "POST",
        "path": ("/" + "p" * 300)[:200],
        "origin": "-",
        "fetch_site": "cross-site",
        "agent": "u" * 200,
    }
    long_origin = "https://" + "e" * 300 + ".example"
    refused = CsrfPolicy().check(_facts(origin=long_origin))
    assert refused is not None and refused.detail["origin"] == long_origin[:200]


def test_safe_methods_pass_but_websocket_handshakes_are_checked() -> None:
    """GET is never refused; a cross-site WebSocket handshake (a GET) is."""
    cross = {"method": "GET", "origin": "https://evil.example"}
    assert CsrfPolicy().check(_facts(**cross)) is None
    assert CsrfPolicy().check(_facts(**cross), websocket=True) is not None


def test_without_a_host_no_origin_is_our_own() -> None:
    """A request without Host has no own origin: a non-literal Origin is refused."""
    facts = _facts(host="", origin="https://example.com")
    assert CsrfPolicy().check(facts) is not None


def test_binding_event_names_both_fingerprints_and_the_session() -> None:
    """A binding mismatch event carries handle, user, both fingerprints, action and agent."""
    bound = fingerprint("203.0.113.9", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    record = Record(
        key="k",
        handle="h1",
        user_id="alice",
        info={"fp": bound},
        created_at=0.0,
        last_active=0.0,
        expires_at=0.0,
        absolute_at=0.0,
    )
    agent = "curl/8.0 " + "x" * 300
    event = binding_event(record, "198.51.100.7", agent, "revoke")
    assert event is not None
    assert (event.kind, event.client, event.handle, event.user_id) == (
        "binding_mismatch",
        "198.51.100.7",
        "h1",
        "alice",
    )
    assert event.detail == {
        "bound": bound,
        "seen": fingerprint("198.51.100.7", agent),
        "action": "revoked",
        "agent": agent[:200],
    }
    logged = binding_event(record, "198.51.100.7", agent, "log")
    assert logged is not None and logged.detail["action"] == "logged"


def test_forwarded_elements_are_split_unquoted_and_aligned() -> None:
    """RFC 7239: comma-separated elements, ';' pairs, quoted values, proto and host per hop."""
    header = 'for=198.51.100.9;proto=https;host="shop.example", for="[2001:db8::1]:8080"'
    resolved = RESOLVER.resolve(PROXY, "http", "internal", forwarded=header)
    assert resolved == Resolved("2001:db8::1", "http", "internal")
    header = 'for=198.51.100.9;proto=https;host="shop.example=1", for=10.0.0.2'
    resolved = RESOLVER.resolve(PROXY, "http", "internal", forwarded=header)
    assert resolved == Resolved("198.51.100.9", "https", "shop.example=1")


def test_forwarded_element_without_proto_or_host_keeps_the_request_values() -> None:
    """An element with only ``for`` changes the client, not the scheme or host."""
    resolved = RESOLVER.resolve(PROXY, "https", "example.com", forwarded="for=198.51.100.9")
    assert resolved == Resolved("198.51.100.9", "https", "example.com")


def test_x_forwarded_lists_align_per_hop_or_fall_back_to_the_nearest() -> None:
    """Aligned X-Forwarded-* lists give each hop its own proto/host; shorter lists the last."""
    aligned = RESOLVER.resolve(
        PROXY,
        "http",
        "internal",
        forwarded_for="198.51.100.9, 10.0.0.2",
        forwarded_proto="https, http",
        forwarded_host="shop.example, internal.example",
    )
    assert aligned == Resolved("198.51.100.9", "https", "shop.example")
    nearest = RESOLVER.resolve(
        PROXY,
        "http",
        "internal",
        forwarded_for="198.51.100.9, 10.0.0.2",
        forwarded_proto="HTTPS",
        forwarded_host="shop.example",
    )
    assert nearest == Resolved("198.51.100.9", "https", "shop.example")


def test_proto_and_host_without_for_describe_the_peer() -> None:
    """X-Forwarded-Proto/Host without X-Forwarded-For apply to the trusted peer itself."""
    resolved = RESOLVER.resolve(
        PROXY, "http", "internal", forwarded_proto="https", forwarded_host="a.example, b.example"
    )
    assert resolved == Resolved(PROXY, "https", "b.example")
    proto_only = RESOLVER.resolve(PROXY, "http", "internal", forwarded_proto="http, https")
    assert proto_only == Resolved(PROXY, "https", "internal")


def test_websocket_schemes_follow_the_forwarded_proto() -> None:
    """Behind a TLS proxy a ws:// request is wss://, an http one stays ws://."""
    assert RESOLVER.resolve(PROXY, "ws", "h", forwarded_proto="https").scheme == "wss"
    assert RESOLVER.resolve(PROXY, "ws", "h", forwarded_proto="http").scheme == "ws"
    assert RESOLVER.resolve(PROXY, "wss", "h", forwarded_proto="http").scheme == "ws"
    assert RESOLVER.resolve(PROXY, "https", "h", forwarded_proto="http").scheme == "http"
    assert RESOLVER.resolve(PROXY, "http", "h", forwarded_proto="gopher").scheme == "http"


@pytest.mark.parametrize(
    ("host", "used"),
    [
        ("a", True),
        ("a" * 255, True),
        ("a" * 256, False),
        ("", False),
        ("a b", False),
        ("a/b", False),
        ("a\\b", False),
        ("u@a", False),
        ("é.example", False),
        ("X", True),
    ],
)
def test_forwarded_hosts_are_validated(host: str, used: bool) -> None:
    """A forwarded Host is used only if 1..255 ASCII characters without space, / \\ or @."""
    resolved = RESOLVER.resolve(PROXY, "http", "internal", forwarded_host=host)
    assert resolved.host == (host if used else "internal")


def test_untrusted_or_missing_peers_are_the_client() -> None:
    """Forwarding headers count only from a trusted peer; an unknown peer stays itself."""
    untrusted = RESOLVER.resolve("198.51.100.1", "http", "h", forwarded_for="203.0.113.5")
    assert untrusted == Resolved("198.51.100.1", "http", "h")
    assert RESOLVER.resolve(None, "http", "h", forwarded_for="203.0.113.5").client is None
    fresh = ClientResolver(["10.0.0.0/8"])  # its trust cache starts empty
    assert fresh.resolve("not-an-ip", "http", "h", forwarded_for="203.0.113.5") == Resolved(
        "not-an-ip", "http", "h"
    )
    nobody = ClientResolver()
    assert nobody.resolve(PROXY, "http", "h", forwarded_for="203.0.113.5").client == PROXY


def test_proxy_networks_may_have_host_bits() -> None:
    """``10.1.2.3/8`` is accepted as the network 10.0.0.0/8 (strict=False), not refused."""
    resolver = ClientResolver(["10.1.2.3/8"])
    assert resolver.trusted("10.200.0.1")
    assert not resolver.trusted("11.0.0.1")


def test_x_forwarded_for_alone_keeps_scheme_and_host() -> None:
    """Only X-Forwarded-For: the client changes, the request's own scheme and host stay."""
    resolved = RESOLVER.resolve(PROXY, "https", "example.com", forwarded_for="198.51.100.9")
    assert resolved == Resolved("198.51.100.9", "https", "example.com")


def test_the_trusted_peer_cache_is_bounded() -> None:
    """The per-address trust cache holds at most 1024 entries (bounded memory, AN-06)."""
    info = ClientResolver(["10.0.0.0/8"]).trusted.cache_info()  # type: ignore[attr-defined]
    assert info.maxsize == 1024


def test_quoted_forwarded_values_lose_only_their_quotes() -> None:
    """Only the double quotes around a Forwarded value go: a host may start or end in X."""
    header = 'for="198.51.100.211";host="X.example.X"'
    resolved = ClientResolver(["10.0.0.0/8"]).resolve(PROXY, "http", "i", forwarded=header)
    assert resolved == Resolved("198.51.100.211", "http", "X.example.X")


def test_ipv4_hops_parse_as_ipv4() -> None:
    """Dotted IPv4 hops (never seen before in this process) are addresses, not garbage."""
    resolver = ClientResolver(["10.0.0.0/8"])
    resolved = resolver.resolve(PROXY, "http", "h", forwarded_for="203.0.113.217, 10.9.8.7")
    assert resolved.client == "203.0.113.217"


def _wild_passes(allowed: str, origin: str) -> bool:
    """Whether an unsafe request from ``origin`` to another site passes ``allowed``."""
    config = SessionConfig(secret_keys=[SECRET], allowed_origins=[allowed])
    policy = CsrfPolicy(config.allowed_origins)
    return policy.check(_facts(host="app.example.net", origin=origin)) is None


@pytest.mark.parametrize(
    "origin",
    ["https://a.example.com", "https://a.b.c.example.com", "https://x-1.example.com:443"],
)
def test_a_wildcard_origin_admits_subdomains_of_any_depth(origin: str) -> None:
    """``https://*.example.com`` lets one label or several, over https, send unsafe requests."""
    assert _wild_passes("https://*.example.com", origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com",  # the apex is not a subdomain
        "https://.example.com",
        "http://ab.example.com",  # the scheme must match
        "https://a.example.com:8443",  # and so must the port
        "https://a_b.example.com",  # not a DNS label
        "https://a..example.com",
        "https://evil.com:1.example.com",
        "https://a.example.com.evil.net",
        "https://aexample.com",
        "https://*.example.com",  # the pattern itself is not an origin
    ],
)
def test_a_wildcard_origin_refuses_everything_else(origin: str) -> None:
    """The apex, another scheme or port, or a label that is not a DNS label stays refused."""
    assert not _wild_passes("https://*.example.com", origin)


def test_a_wildcard_origin_with_a_port_needs_that_port() -> None:
    """``https://*.example.com:8443`` admits that port only, at any subdomain depth."""
    allowed = "https://*.example.com:8443"
    assert _wild_passes(allowed, "https://a.example.com:8443")
    assert _wild_passes(allowed, "https://a.b.example.com:8443")
    assert not _wild_passes(allowed, "https://a.example.com")
    assert not _wild_passes(allowed, "https://a.example.com:9443")
    assert not _wild_passes(allowed, "https://example.com:8443")


def test_exact_and_wildcard_origins_combine() -> None:
    """A listed exact origin and a wildcard each admit their own origins, nothing more."""
    config = SessionConfig(
        secret_keys=[SECRET],
        allowed_origins=["https://idp.example.org", "https://*.example.com"],
    )
    policy = CsrfPolicy(config.allowed_origins)
    for origin, passes in [
        ("https://idp.example.org", True),
        ("https://a.idp.example.org", False),
        ("https://a.example.com", True),
        ("https://example.com", False),
    ]:
        assert (policy.check(_facts(host="app.example.net", origin=origin)) is None) is passes


def _untrusted_report(peer: str | None) -> tuple[list[Event], list[logging.LogRecord]]:
    """Three reports of forwarding headers from ``peer``: the events and warnings they gave."""
    events: list[Event] = []
    resolver = ClientResolver(["10.0.0.0/8"], on_event=events.append)
    handler = _Records()
    log = logging.getLogger("sessionware")
    log.addHandler(handler)
    try:
        assert resolver.warned is False
        for _ in range(3):
            resolver.untrusted(peer)
            assert resolver.warned is True
    finally:
        log.removeHandler(handler)
    return events, [r for r in handler.records if r.name == "sessionware"]


class _Records(logging.Handler):
    """Keeps every record it sees (the app's own logging level notwithstanding)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_untrusted_forwarding_event_names_the_peer_and_the_setting() -> None:
    """One ``untrusted_forwarding`` event per resolver, with the peer as client and in detail."""
    events, _ = _untrusted_report("192.0.2.7")
    assert len(events) == 1
    assert (events[0].kind, events[0].client) == ("untrusted_forwarding", "192.0.2.7")
    assert events[0].detail == {"peer": "192.0.2.7", "setting": "trusted_proxies"}


def test_untrusted_forwarding_from_an_unknown_peer_says_so() -> None:
    """With no peer address (a Unix socket) the event's client is None and its peer ``-``."""
    events, _ = _untrusted_report(None)
    assert [(e.kind, e.client, e.detail) for e in events] == [
        ("untrusted_forwarding", None, {"peer": "-", "setting": "trusted_proxies"})
    ]


def test_untrusted_forwarding_warns_once_naming_the_peer_and_the_setting() -> None:
    """One WARNING on ``sessionware`` per resolver, naming the peer and ``trusted_proxies``."""
    logger = logging.getLogger("sessionware")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        _, records = _untrusted_report("192.0.2.7")
    finally:
        logger.setLevel(level)
    assert [r.levelno for r in records] == [logging.WARNING]
    message = records[0].getMessage()
    assert "192.0.2.7" in message and "trusted_proxies" in message
    assert "X-Forwarded-For" in message


def test_ipv4_addresses_parse_without_the_cache() -> None:
    """A dotted IPv4 address is parsed as IPv4 itself, not only found in the parse cache."""
    parse_ip.cache_clear()  # earlier tests in this process may have filled it
    assert parse_ip("192.0.2.33") == "192.0.2.33"
    assert parse_ip("192.0.2.34:8080") == "192.0.2.34"
    assert parse_ip("::ffff:192.0.2.35") == "192.0.2.35"
