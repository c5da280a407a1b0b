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


def address_class(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None if it is one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_class(address.ipv4_mapped)
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
