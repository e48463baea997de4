"""Client identity (FX-08, AN-01): forwarding headers count only from trusted proxies."""

from __future__ import annotations

import pytest

from sessionware.config import GuardConfig
from sessionware.defences.client_address import ClientResolver, client_key, parse_ip

from .conftest import forged

PROXY = "10.0.0.2"


@pytest.mark.parametrize(
    ("trusted", "peer", "xff", "expected"),
    [
        pytest.param((), "198.51.100.7", "1.2.3.4", "198.51.100.7", id="no-trusted-proxy"),
        pytest.param(
            ("10.0.0.0/8",), "198.51.100.7", "1.2.3.4", "198.51.100.7", id="peer-untrusted"
        ),
        pytest.param(("10.0.0.0/8",), PROXY, "203.0.113.9", "203.0.113.9", id="one-proxy"),
        pytest.param(
            ("10.0.0.0/8",), PROXY, "6.6.6.6, 203.0.113.9", "203.0.113.9", id="spoofed-left-part"
        ),
        pytest.param(
            ("10.0.0.0/8",), PROXY, "203.0.113.9, 10.0.0.5", "203.0.113.9", id="proxy-chain"
        ),
        pytest.param(("10.0.0.0/8",), PROXY, "10.0.0.9, 10.0.0.5", "10.0.0.9", id="all-trusted"),
        pytest.param(("10.0.0.0/8",), PROXY, "garbage, 10.0.0.5", "10.0.0.5", id="garbage-hop"),
        pytest.param(("10.0.0.0/8",), PROXY, "203.0.113.9:4711", "203.0.113.9", id="ipv4-port"),
        pytest.param(("10.0.0.0/8",), PROXY, "[2001:DB8::1]:443", "2001:db8::1", id="ipv6-port"),
        pytest.param(("10.0.0.0/8",), PROXY, "::ffff:203.0.113.9", "203.0.113.9", id="v4-mapped"),
        pytest.param(("10.0.0.0/8",), PROXY, None, PROXY, id="no-header"),
        pytest.param(("::1",), "::1", "203.0.113.9", "203.0.113.9", id="ipv6-proxy"),
    ],
)
def test_x_forwarded_for(trusted, peer, xff, expected) -> None:
    """The right-most untrusted hop is the client, and only behind a trusted peer."""
    resolved = ClientResolver(trusted).resolve(peer, "http", "app", forwarded_for=xff)
    assert resolved.client == expected


def test_forwarded_header_wins_and_carries_scheme_and_host() -> None:
    """RFC 7239 ``Forwarded`` gives the client, scheme and host of the chosen hop."""
    resolver = ClientResolver(["10.0.0.0/8"])
    header = 'for=6.6.6.6;proto=http, for="[2001:db8::7]:1234";proto=https;host=example.com'
    resolved = resolver.resolve(
        PROXY, "http", "app:8000", forwarded_for="9.9.9.9", forwarded=header
    )
    assert resolved == ("2001:db8::7", "https", "example.com")


def test_forwarded_proto_and_host_align_with_the_hop() -> None:
    """Per-hop ``X-Forwarded-Proto`` values line up with ``X-Forwarded-For`` from the right."""
    resolver = ClientResolver(["10.0.0.0/8"])
    resolved = resolver.resolve(
        PROXY,
        "http",
        "app",
        forwarded_for="203.0.113.9, 10.0.0.5",
        forwarded_proto="https, http",
        forwarded_host="example.com",
    )
    assert resolved == ("203.0.113.9", "https", "example.com")


def test_proto_without_for_is_taken_from_a_trusted_peer() -> None:
    """``X-Forwarded-Proto`` alone from a trusted proxy sets the scheme (FX-08)."""
    resolver = ClientResolver(["10.0.0.2"])
    assert resolver.resolve(PROXY, "http", "h", forwarded_proto="https").scheme == "https"
    assert ClientResolver().resolve(PROXY, "http", "h", forwarded_proto="https").scheme == "http"


def test_bad_host_and_proto_values_are_ignored() -> None:
    """A forwarded host with a path or spaces, or an odd proto, leaves the request's own."""
    resolver = ClientResolver(["10.0.0.0/8"])
    resolved = resolver.resolve(
        PROXY,
        "http",
        "app",
        forwarded_for="203.0.113.9",
        forwarded_proto="gopher",
        forwarded_host="evil.com/x y",
    )
    assert resolved == ("203.0.113.9", "http", "app")


def test_keys_count_ipv6_per_prefix() -> None:
    """IPv6 addresses in one /64 share a key; IPv4 keys are the address itself."""
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("2001:db8:1:2::1", 48) == client_key("2001:db8:1:3::1", 48)
    assert client_key("198.51.100.7") == "198.51.100.7"
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert parse_ip("unknown") is None
    assert parse_ip("_hidden") is None


def test_spoofed_x_forwarded_for_does_not_dodge_the_block(make, kind) -> None:
    """Without trusted proxies a fresh X-Forwarded-For per request changes nothing."""
    h = make(kind, guard=GuardConfig(bad_limit=5))
    for i in range(6):
        h.request(
            "/", cookie=forged(), client="198.51.100.7", headers={"x-forwarded-for": f"1.1.1.{i}"}
        )
    spoof = {"x-forwarded-for": "1.1.1.99"}
    resp = h.request("/", cookie=forged(), client="198.51.100.7", headers=spoof)
    assert resp.status == 429
    assert {e.client for e in h.events if e.kind == "bad_signature"} == {"198.51.100.7"}


def test_through_a_trusted_proxy_the_real_client_is_blocked(make, kind) -> None:
    """Behind a trusted proxy the forwarded client is blocked, not the proxy or other clients."""
    h = make(kind, guard=GuardConfig(bad_limit=5), trusted_proxies=["10.0.0.0/8"])
    attacker = {"x-forwarded-for": "6.6.6.6, 203.0.113.66"}
    for _ in range(6):
        h.request("/", cookie=forged(), client=PROXY, headers=attacker)
    assert h.request("/", cookie=forged(), client=PROXY, headers=attacker).status == 429
    other = {"x-forwarded-for": "203.0.113.77"}
    assert h.request("/", cookie=forged(), client=PROXY, headers=other).status == 200
    assert h.request("/", cookie=forged(), client=PROXY).status == 200
    alarm = next(e for e in h.events if e.kind == "brute_force")
    assert alarm.client == "203.0.113.66"
