"""The client's address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(scope: MutableMapping[str, Any], trusted: tuple[Network, ...]) -> str:
    peer = scope.get("client")
    address = str(peer[0]) if peer else "unknown"
    if not trusted or not is_trusted(address, trusted):
        return address
    forwarded: bytes | None = next((v for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"), None)
    if forwarded is None:
        return address
    # Walk from the nearest hop outwards; the first address no trusted proxy vouches for is the client.
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _plain_ip(hop)
        if ip is None:
            # Not an address (markup, a port, junk): the header is not believed at all. The
            # value would otherwise reach the audit log, rate-limit keys and 64-character columns.
            return address
        if not any(ip in network for network in trusted):
            return str(ip)
    return str(ipaddress.ip_address(hops[0])) if hops else address  # every hop checked above


def _plain_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IPv4 or IPv6 address without a zone (`fe80::1%eth0`): a zone means nothing beyond the
    proxy's own host and makes the text arbitrarily long."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return None if "%" in text else ip


def is_https(scope: MutableMapping[str, Any], trusted: tuple[Network, ...]) -> bool:
    """Served over HTTPS: directly, or by a trusted proxy that says so in X-Forwarded-Proto."""
    if scope.get("scheme") == "https":
        return True
    peer = scope.get("client")
    if not peer or not is_trusted(str(peer[0]), trusted):
        return False
    proto = next((v for k, v in scope.get("headers", ()) if k == b"x-forwarded-proto"), b"")
    return bool(proto.split(b",")[0].strip().lower() == b"https")
