"""Who is the client: the peer, or what a trusted proxy says about it.

Anyone can send ``X-Forwarded-For: 1.2.3.4``.  Believing it would let an
attacker pick the address the guard counts against (and dodge every block),
so forwarding headers are read only when the TCP peer is one of
``trusted_proxies`` (FX-08, AN-01; express-session's "trust proxy" rule).
Then the chain is walked from the right, skipping hops that are themselves
trusted proxies: the first untrusted hop is the client.  Entries to its left
were written by the client and are ignored.  The scheme and host the client
used come from the same hop (``X-Forwarded-Proto`` / ``X-Forwarded-Host``, or
the ``proto`` / ``host`` of an RFC 7239 ``Forwarded`` element); ``Forwarded``
wins when both styles are present.

For counting, an IPv6 client is its network (a /64 by default): one host
usually owns a whole /64 and could otherwise rotate through 2**64 addresses.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple, TypeAlias

from ..events import Event, EventSink, emit

log = logging.getLogger("sessionware")

__all__ = ["ClientKey", "ClientResolver", "Resolved", "client_key", "parse_ip"]

#: What the guard counts against: an IPv4 address string, or an IPv6 network as int.
ClientKey: TypeAlias = str | int


class Resolved(NamedTuple):
    """The client as seen after the trusted proxies."""

    client: str | None
    scheme: str
    host: str


_MAPPED = b"\0" * 10 + b"\xff\xff"


def _packed(text: str) -> bytes | None:
    """4 or 16 bytes for an IP address string (C-speed ``inet_pton``), else None."""
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> str | None:
    """The normalized address in ``text`` (``1.2.3.4:80``, ``[::1]:443`` allowed), or None."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    packed = _packed(text.partition("%")[0])
    if packed is None:
        return None  # "unknown", "_hidden" obfuscated identifiers, garbage
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    if packed.startswith(_MAPPED):
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed)


def client_key(client: str, ipv6_prefix: int = 64) -> ClientKey:
    """The counting key for ``client``: IPv4 as is, IPv6 as its network.

    IPv4 costs nothing (the peer string is already canonical); IPv6 costs
    one ``inet_pton`` (about 0.3 us), cached per distinct address.
    """
    if ":" not in client:
        return client
    return _v6_key(client, ipv6_prefix)


@lru_cache(maxsize=4096)
def _v6_key(client: str, bits: int) -> ClientKey:
    packed = _packed(client.partition("%")[0])
    if packed is None or len(packed) != 16:
        return client
    if packed.startswith(_MAPPED):
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return int.from_bytes(packed, "big") >> (128 - bits)


def _split(header: str | None) -> list[str]:
    return [part.strip() for part in header.split(",")] if header else []


def _forwarded(header: str) -> list[tuple[str, str, str]]:
    """RFC 7239 elements as ``(for, proto, host)``, left to right."""
    elements = []
    for element in header.split(","):
        fields = {"for": "", "proto": "", "host": ""}
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            name = name.strip().lower()
            if name in fields:
                fields[name] = value.strip().strip('"')
        elements.append((fields["for"], fields["proto"].lower(), fields["host"]))
    return elements


def _valid_host(host: str) -> bool:
    return 0 < len(host) <= 255 and host.isascii() and not any(c in host for c in " /\\@\t\r\n")


class ClientResolver:
    """Resolves the client address, scheme and host behind ``trusted_proxies``.

    :param trusted_proxies: IPs or CIDRs of the proxies in front of the app.

    .. versionadded:: 0.1
    """

    __slots__ = ("_nets", "_on_event", "active", "trusted", "warned")

    def __init__(
        self, trusted_proxies: Sequence[str] = (), *, on_event: EventSink | None = None
    ) -> None:
        self._nets = tuple(ipaddress.ip_network(c, strict=False) for c in trusted_proxies)
        #: False when no proxy is trusted: the peer is always the client.
        self.active = bool(self._nets)
        self.trusted: Callable[[str], bool] = lru_cache(maxsize=1024)(self._trusted)
        #: True once forwarding headers from an untrusted peer were reported.
        self.warned = False
        self._on_event = on_event

    def untrusted(self, peer: str | None) -> None:
        """Report, once, forwarding headers that came from a peer not in ``trusted_proxies``.

        Behind a proxy that is not listed, every user shares the proxy's
        address: one guard block or one creation limit then covers everyone.
        The headers are still ignored (believing them would let anyone pick
        their address); the warning says which setting to change.
        """
        if self.warned:
            return
        self.warned = True
        log.warning(
            "sessionware: X-Forwarded-For/Forwarded from %s "  # pragma: no mutate - wording
            "ignored: that peer is not in trusted_proxies; "  # pragma: no mutate - wording
            "if it is your "  # pragma: no mutate - wording
            "reverse proxy, add it to trusted_proxies (or let the "  # pragma: no mutate - wording
            "server rewrite addresses, e.g. uvicorn "  # pragma: no mutate - wording
            "--forwarded-allow-ips)",  # pragma: no mutate - wording
            peer,
        )
        detail = {"peer": peer or "-", "setting": "trusted_proxies"}
        emit(Event("untrusted_forwarding", peer, detail=detail), self._on_event)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._nets)

    def resolve(
        self,
        peer: str | None,
        scheme: str,
        host: str,
        forwarded_for: str | None = None,
        forwarded: str | None = None,
        forwarded_proto: str | None = None,
        forwarded_host: str | None = None,
    ) -> Resolved:
        """The client behind the proxies; the peer itself unless it is trusted."""
        if not self.active or peer is None or not self.trusted(peer):
            return Resolved(peer, scheme, host)
        if forwarded:
            hops = _forwarded(forwarded)
        else:
            fors = _split(forwarded_for)
            protos = [p.lower() for p in _split(forwarded_proto)]
            hosts = _split(forwarded_host)
            hops = [
                (address, _aligned(protos, len(fors), i), _aligned(hosts, len(fors), i))
                for i, address in enumerate(fors)
            ]
            if not fors and (protos or hosts):
                hops = [(peer, protos[-1] if protos else "", hosts[-1] if hosts else "")]
        client = peer
        for address_text, proto, via_host in reversed(hops):
            address = parse_ip(address_text)
            if address is None:
                break  # not an address: stop at the last hop a trusted proxy vouched for
            client = address
            if proto in ("http", "https"):
                scheme = proto if scheme in ("http", "https") else _ws(proto)
            if via_host and _valid_host(via_host):
                host = via_host
            if not self.trusted(address):
                break
        return Resolved(client, scheme, host)


def _aligned(values: list[str], count: int, index: int) -> str:
    """The value for hop ``index``: per hop when lists align, else the nearest proxy's."""
    if not values:
        return ""
    return values[index] if len(values) == count else values[-1]


def _ws(proto: str) -> str:
    return "wss" if proto == "https" else "ws"
