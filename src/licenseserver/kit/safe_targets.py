"""Which network addresses an outgoing request (a webhook) may go to.

A URL names a host; the host resolves to addresses, and an address on the server's own machine
or network (loopback, private, link-local, the cloud metadata service) would let anyone who can
register a URL make the server call its own neighbours (server-side request forgery). So every
address a name resolves to is checked, not the name: `refused_reason` for one address,
`check_url` for a URL at registration. The deliverer checks again at connection time and connects
to the very address it checked (domain/webhooks/sender.py), so a second DNS answer cannot slip in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba): credentials live there.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
WEB_SCHEMES = ("https", "http")


def refused_reason(address: IpAddress) -> str | None:
    """Why a request must not go to this address, or None when it is a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        # Shared address space (100.64.0.0/10), reserved and documentation ranges: nobody's public host.
        return "not a public address"
    return None


async def _addresses(host: str, port: int) -> list[IpAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # str(): an IPv6 sockaddr may carry a zone ("fe80::1%eth0"), which ip_address refuses.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_url(url: str, allow_private: bool) -> str | None:
    """Why a webhook URL is refused (a sentence for the person who entered it), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the URL cannot be read (is the port a number?)"
    if parts.scheme not in WEB_SCHEMES:
        return "the URL must start with https:// or http://"
    if not parts.hostname:
        return "the URL names no host"
    if allow_private:
        return None
    try:
        addresses = await _addresses(parts.hostname, port)
    except (OSError, UnicodeError):
        return f"{parts.hostname} does not resolve"
    for address in addresses:
        reason = refused_reason(address)
        if reason is not None:
            return f"{parts.hostname} resolves to {address}, {reason}"
    return None
