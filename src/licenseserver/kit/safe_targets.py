"""Where the server may send a request it was told to send (webhooks): public addresses only.

A URL given by a user could otherwise make the server reach what only it can reach: its own
loopback services, the private network behind it, a cloud's metadata service (169.254.169.254)
with its credentials. So the host is resolved and refused when ANY of its addresses is not a
public one; the deliverer asks again at connection time (a name may resolve elsewhere later).

`WEBHOOK_ALLOW_PRIVATE=true` lifts the rule for installations whose receivers sit on their own
network (and for tests). The reasons are short technical phrases ("loopback address"), the same
in German and English texts; the caller wraps them in its own sentence.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESS = ipaddress.IPv4Address("169.254.169.254")
# RFC 6598 shared address space: the far side of a provider's NAT, never a public receiver.
CARRIER_GRADE_NAT = ipaddress.IPv4Network("100.64.0.0/10")
# RFC 4193 unique local addresses, IPv6's private networks.
UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
ALLOWED_SCHEMES = ("http", "https")


def refused_reason(ip: IpAddress | str) -> str | None:
    """Why a request must not go to this address, or None for a public address."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A receiver never publishes ::ffff:a.b.c.d; it only serves to dress up an IPv4 address.
        return "IPv4-mapped IPv6 address"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback address"),
        (address == METADATA_ADDRESS, "cloud metadata address"),
        (address.is_link_local, "link-local address"),
        (isinstance(address, ipaddress.IPv4Address) and address in CARRIER_GRADE_NAT, "carrier-grade NAT address"),
        (address.is_multicast, "multicast address"),
        (isinstance(address, ipaddress.IPv6Address) and address in UNIQUE_LOCAL, "unique local address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local address"),
        (address.is_private, "private address"),
        (address.is_reserved, "reserved address"),
        # Anything else outside the global unicast space (e.g. 192.0.0.0/24, benchmarking nets).
        (not address.is_global, "non-public address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


def url_host(url: str) -> tuple[str, str, int] | str:
    """(scheme, host, port) of an http(s) URL, or why it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return "the URL must start with http:// or https://"
    if not parts.hostname:
        return "the URL has no host"
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address the host resolves to (an address literal is itself); raises OSError."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


async def check_url(url: str, allow_private: bool) -> str | None:
    """Why the server must not send to this URL, or None when it may. Not http(s): refused
    always; a host that does not resolve, or resolves to any refused address: refused unless
    `allow_private`."""
    target = url_host(url)
    if isinstance(target, str):
        return target
    _scheme, host, port = target
    if allow_private:
        return None
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        return f"the host {host} does not resolve"
    for address in addresses:
        reason = refused_reason(address)
        if reason is not None:
            return f"{host} resolves to {address}: {reason}" if str(address) != host else f"{host}: {reason}"
    return None
