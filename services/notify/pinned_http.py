"""Outbound HTTP POSTs under the SSRF rule: resolve the host, check every address
(`domain.ssrf.check_destination`), then connect to a checked address — not to whatever DNS
answers a moment later. The Host header and TLS SNI keep the original name."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.notify.domain.ssrf import check_destination

Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationRefusedError(Exception):
    """The URL is not allowed: bad scheme, no host, or a non-public address (SSRF rule)."""


class ResolutionError(OSError):
    """The host name did not resolve (may pass: retried like a connection error)."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    retry_after: str | None
    body: bytes


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolutionError(f"cannot resolve {host!r}: {exc}") from None
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone
        if address not in seen:
            seen.append(address)
    return seen


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class PinnedHttp:
    def __init__(self, client: httpx.AsyncClient, resolver: Resolver = resolve_host) -> None:
        self.client = client
        self.resolver = resolver

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, allow_private: bool
    ) -> HttpAnswer:
        """POST `body` to `url` through a checked address. Raises DestinationRefusedError,
        ResolutionError, or httpx's TimeoutException / TransportError."""
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            raise DestinationRefusedError(check_destination(url, [], allow_private).reason)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise DestinationRefusedError(f"bad port in the URL: {exc}") from None
        addresses = await self.resolver(host, port)
        verdict = check_destination(url, addresses, allow_private)
        if not verdict.allowed:
            raise DestinationRefusedError(verdict.reason)
        address = addresses[0]
        pinned_host = f"[{address}]" if ":" in address else address
        netloc = f"{pinned_host}:{parts.port}" if parts.port else pinned_host
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = f"[{host}]" if ":" in host else host
        if parts.port:
            host_header += f":{parts.port}"
        extensions = {}
        if parts.scheme == "https" and not _is_ip(host):
            extensions["sni_hostname"] = host
        response = await self.client.post(
            pinned,
            content=body,
            headers={**headers, "Host": host_header},
            extensions=extensions,
        )
        return HttpAnswer(
            response.status_code, response.headers.get("retry-after"), response.content
        )
