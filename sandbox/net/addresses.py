"""Which resolved addresses the proxy may connect to.

An allowed name can still point somewhere it must not: a DNS record that says 127.0.0.1, a
cloud metadata service, the LAN printer, or an IPv6 form that wraps an IPv4 address. Only
globally routable addresses pass, unless a rule names the address range explicitly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def parse_network(text: str) -> IPNetwork:
    """A CIDR range or a single address (as a /32 or /128). Raises ValueError with a message."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IP address or CIDR range") from exc


def address_problem(addr: IPAddress) -> str:
    """Why `addr` is special ("loopback", "private", …), or "" for a public address."""
    if addr in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if addr.sixtofour is not None or addr.teredo is not None:
            return "an IPv6 address that tunnels to IPv4"
        if addr in _NAT64 or addr in _NAT64_LOCAL:
            return "a NAT64 address that wraps IPv4"
        if int(addr) >> 32 == 0:
            return "an IPv4-compatible IPv6 address"
    if addr.is_loopback:
        return "loopback"
    if addr.is_unspecified:
        return "the unspecified address"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_private:
        return "private"
    if addr.is_reserved:
        return "reserved"
    if not addr.is_global:
        return "not globally routable"
    return ""


def address_refusal(addr: IPAddress, allowed: Iterable[IPNetwork]) -> str:
    """ "" when the proxy may connect to `addr`; otherwise the reason it may not."""
    problem = address_problem(addr)
    if not problem:
        return ""
    for net in allowed:
        if addr.version == net.version and addr in net:
            return ""
    return f"{addr}, which is {problem}"
