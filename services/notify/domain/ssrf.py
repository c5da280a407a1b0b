"""The SSRF rule for outbound HTTP: only public addresses, unless the receiver allows
private ones. Resolution is the caller's; it passes the addresses in and must then connect
to one of the checked addresses (so DNS cannot change the answer in between)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class DestinationVerdict:
    allowed: bool
    reason: str


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo, NAT64): a
    private IPv4 must not slip past the check inside one of them."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def address_class(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None if it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_class(address.ipv4_mapped)
        for inner in _embedded_ipv4(address):
            problem = address_class(inner)
            if problem is not None:
                return f"embeds {inner}, {problem}"
        if address.sixtofour is not None:
            return "6to4 (deprecated, RFC 7526)"
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if not address.is_global:
        return "not globally routable"
    return None


def check_destination(
    url: str, resolved: Sequence[str | IPAddress], allow_private: bool
) -> DestinationVerdict:
    """Whether to send to ``url`` whose host resolved to ``resolved``. Every address must be
    public (private, loopback, link-local, multicast and other special ranges are refused)
    unless ``allow_private``. Only http and https are allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return DestinationVerdict(False, f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        return DestinationVerdict(False, "the URL has no host")
    if not resolved:
        return DestinationVerdict(False, f"{parts.hostname} resolved to no address")
    for item in resolved:
        try:
            address = ipaddress.ip_address(item) if isinstance(item, str) else item
        except ValueError:
            return DestinationVerdict(False, f"{item!r} is not an IP address")
        problem = address_class(address)
        if problem is not None and not allow_private:
            return DestinationVerdict(
                False, f"{parts.hostname} resolves to {address} ({problem}); refused"
            )
    return DestinationVerdict(True, "allowed")
